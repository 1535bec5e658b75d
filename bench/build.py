"""Build and tear down N hosts on one switch with netnb, and the same topology with a raw `ip -batch`
script (the lower bound a person typing commands could reach), in the same run; print both.

    .venv/bin/python bench/build.py 10 100 1000

The `ip` baseline: one `ip -batch` creates the namespaces, one `ip -n sw -batch` the bridge and veth
pairs, then one `ip -n hN -batch` per host (iproute2 has no per-line namespace) brings links up and
sets the address. netnb does more per host (IPv6 off, lo up) and also waits until every interface is
operationally up, so its time is "ready to ping".

netnb's one-time start in a Python process (the agent spawner: an interpreter that loads netnb's
agent, see netnb/backends/kernel/spawner.py) is measured first and printed on its own line; every
lab after it forks its agent from there. Notebooks pay it in their first cell (``require_labs()``).

The kernel frees a deleted namespace in a background worker, after ``ip netns del`` or ``lab.stop()``
returned; that work slows whatever builds next. So the script pauses between phases (SETTLE_S per
host) and runs the two builds in alternating order.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import netnb  # noqa: E402


def build_netnb(n: int) -> tuple[float, float, dict[str, float]]:
    lab = netnb.Lab(f"bench{n}")
    sw = lab.switch("sw", subnet="10.0.0.0/16")
    for i in range(n):
        lab.link(lab.host(f"h{i}"), sw)
    t0 = time.perf_counter()
    lab.start(timeout=120)
    t1 = time.perf_counter()
    lab.stop()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, lab.timings


def build_ip(n: int) -> tuple[float, float]:
    prefix = f"nnb{os.getpid()}"
    sw = f"{prefix}sw"
    hosts = [f"{prefix}h{i}" for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        def batch(lines: list[str], ns: str | None = None) -> None:
            path = os.path.join(tmp, "batch")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            subprocess.run(["ip", *(["-n", ns] if ns else []), "-batch", path], check=True)

        t0 = time.perf_counter()
        batch([f"netns add {sw}"] + [f"netns add {h}" for h in hosts])
        lines = ["link add sw type bridge", "link set sw up"]
        for i, h in enumerate(hosts):
            lines += [f"link add p{i} type veth peer name eth0 netns {h}", f"link set p{i} master sw up"]
        batch(lines, sw)
        for i, h in enumerate(hosts):
            batch(["link set lo up", "link set eth0 up", f"addr add 10.0.{i // 250}.{i % 250 + 1}/16 dev eth0"], h)
        t1 = time.perf_counter()
        batch([f"netns del {sw}"] + [f"netns del {h}" for h in hosts])
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1


SETTLE_S = 0.004


def settle(n: int) -> None:
    """Give the kernel's namespace clean-up worker time to finish the previous phase."""
    time.sleep(0.3 + SETTLE_S * n)


def main(sizes: list[int]) -> None:
    started = netnb.prepare()
    print(f"netnb's one-time start in this process (agent spawner): {started:.2f} s\n")
    print("netnb build = agent start + operations + wait until every link is up (ready to ping);")
    print("'ops only' leaves out the agent start and the wait, like the ip script.\n")
    print(f"{'hosts':>6} {'ip build':>9} {'netnb build':>12} {'ratio':>6} {'ops only':>9} {'ratio':>6} "
          f"{'ip stop':>8} {'netnb stop':>11}")
    for i, n in enumerate(sizes):
        if i % 2 == 0:
            ip_build, ip_stop = build_ip(n)
            settle(n)
            nb_build, nb_stop, t = build_netnb(n)
        else:
            nb_build, nb_stop, t = build_netnb(n)
            settle(n)
            ip_build, ip_stop = build_ip(n)
        settle(n)
        ops = t["build_s"]
        print(f"{n:>6} {ip_build:>8.2f}s {nb_build:>11.2f}s {nb_build / ip_build:>6.2f} {ops:>8.2f}s "
              f"{ops / ip_build:>6.2f} {ip_stop:>7.2f}s {nb_stop:>10.2f}s", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10, 100, 1000])
