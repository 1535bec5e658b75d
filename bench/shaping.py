"""Rate-limited links (``lab.link(..., rate=)``): how long an HTTP download takes through one, on the kernel and
in the simulation, beside the same download over an unlimited link and the ideal (bytes with their TCP/IP and
Ethernet headers, over the rate), all in the same run.

    .venv/bin/python bench/shaping.py              # both backends (the kernel needs root)
    .venv/bin/python bench/shaping.py --no-kernel

Each download is sized to take two seconds at its rate. The lab is tests/labs.py's ``rated``: A - R - B, R's
end towards A limited (a tbf qdisc), B serving the file with ``python3 -m http.server``; the time is curl's own
(``-w '%{time_total}'``).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.labs import rated  # noqa: E402

RATES = ["1mbit", "2mbit", "10mbit", "50mbit"]
MSS = 1448  # what a segment carries with Linux's TCP timestamps
HEADERS = 14 + 20 + 32  # Ethernet, IPv4, TCP with timestamps


def download(backend: str, rate: str | None, size: int) -> float:
    """Seconds curl took for ``size`` bytes through R's end towards A (unlimited when ``rate`` is None)."""
    lab = rated(f"bench-tbf-{backend[0]}", backend=backend, rate=(None, rate) if rate else None, size=size)
    with lab:
        lab["B"].popen("python3 -m http.server 8080 --directory /srv").wait_listening(8080)
        out = lab["A"].run("curl -s -o /dev/null -w '%{time_total} %{size_download}' http://10.0.2.2:8080/big",
                           check=True).stdout.split()
        assert int(out[1]) == size, out
        return float(out[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-kernel", action="store_true", help="the simulation only")
    args = parser.parse_args()
    backends = ["sim"] if args.no_kernel else ["kernel", "sim"]
    print(f"{'rate':>8} {'size':>9} {'ideal':>7} " + " ".join(f"{b + ' limited':>15} {b + ' unlimited':>15}"
                                                              for b in backends))
    for rate in RATES:
        bits = int(rate[:-4]) * 1_000_000
        size = bits // 8 * 2
        ideal = (size + -(-size // MSS) * HEADERS) * 8 / bits
        cells = []
        for backend in backends:
            cells += [f"{download(backend, rate, size):14.3f}s", f"{download(backend, None, size):14.3f}s"]
        print(f"{rate:>8} {size:>9} {ideal:6.3f}s " + " ".join(cells))


if __name__ == "__main__":
    main()
