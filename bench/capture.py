"""Capture without loss: a sender in node A offers UDP to node B at increasing rates; netnb and
`tcpdump -w` capture the same stream at B's interface in the same run. Prints offered, captured and
dropped for both, then how long a 10,000-packet capture takes to open as a table, then what opening a
capture at 1, 8 and 32 points costs (start time, kernel memory) beside as many tcpdump processes.

    .venv/bin/python bench/capture.py [rate ...]       (default 10000 50000 100000 200000 pkt/s)
"""

from __future__ import annotations

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import netnb  # noqa: E402

DURATION = 2.0
SENDER = """
import socket, sys, time
rate, duration = float(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
payload, dest = b"x" * 64, ("10.0.0.2", 9)
sent, start, burst = 0, time.perf_counter(), 64
end = start + duration
while True:
    now = time.perf_counter()
    if now >= end:
        break
    due = int((now - start) * rate)
    while sent < due:
        try:
            s.sendto(payload, dest)
        except OSError:
            time.sleep(0.0001)
            continue
        sent += 1
    if sent >= due:
        time.sleep(min(0.0005, burst / rate))
print(sent, flush=True)
"""


def tcpdump_counts(output: str) -> tuple[int, int]:
    captured = re.search(r"(\d+) packets? captured", output)
    dropped = re.search(r"(\d+) packets? dropped by kernel", output)
    return (int(captured.group(1)) if captured else -1, int(dropped.group(1)) if dropped else -1)


def one_rate(lab: netnb.Lab, rate: int) -> tuple[int, int, int, int, int]:
    a, b = lab["A"], lab["B"]
    pcap = f"/tmp/netnb-bench-{os.getpid()}.pcap"
    dump = b.popen(["tcpdump", "-n", "-i", "eth0", "-B", "65536", "-w", pcap, "udp port 9"])
    deadline = time.monotonic() + 10
    while "listening on" not in dump.output() and time.monotonic() < deadline:
        time.sleep(0.02)
    with lab.capture("B:eth0", filter="udp port 9") as cap:
        offered = int(a.run(["python3", "-c", SENDER, str(rate), str(DURATION)], timeout=60).stdout)
        time.sleep(0.2)
    dump.stop()
    time.sleep(0.1)
    t_captured, t_dropped = tcpdump_counts(dump.output())
    os.unlink(pcap)
    return offered, len(cap), cap.dropped, t_captured, t_dropped


def table_open_time(lab: netnb.Lab, packets: int = 10_000) -> tuple[int, float, float]:
    a = lab["A"]
    cap = lab.capture("B:eth0", filter="udp port 9").start()
    a.run(["python3", "-c", SENDER, "20000", str(packets / 20000)], timeout=60)
    time.sleep(0.2)
    t0 = time.perf_counter()
    cap.stop()
    t1 = time.perf_counter()
    bundle = cap._repr_mimebundle_()
    t2 = time.perf_counter()
    assert str(len(cap)) in bundle["text/plain"]
    return len(cap), t1 - t0, t2 - t1


def mem_available_kib() -> int:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))


def opening_cost(points: int) -> tuple[float, float, float, float]:
    """Start time (s) and kernel memory held (MiB) by a netnb capture at ``points`` switch ports, and by
    as many `tcpdump -w` processes (one per port, its default buffer) in the same run."""
    lab = netnb.Lab("bench-points")
    sw = lab.switch("sw", subnet="10.1.0.0/24")
    hosts = [lab.host(f"h{i}") for i in range(points)]
    for h in hosts:
        lab.link(h, sw)
    with lab:
        before = mem_available_kib()
        t0 = time.perf_counter()
        cap = lab.capture(*[f"sw:{h.name}-eth0" for h in hosts]).start()
        took = time.perf_counter() - t0
        held = (before - mem_available_kib()) / 1024
        cap.stop()
        before = mem_available_kib()
        t0 = time.perf_counter()
        dumps = [sw.popen(["tcpdump", "-n", "-q", "-i", f"{h.name}-eth0", "-w", "/dev/null"]) for h in hosts]
        for d in dumps:
            deadline = time.monotonic() + 10
            while "listening on" not in d.output() and time.monotonic() < deadline:
                time.sleep(0.002)  # polling its output for the line it prints once its ring is up
        td_took = time.perf_counter() - t0
        td_held = (before - mem_available_kib()) / 1024
        for d in dumps:
            d.stop()
    return took, held, td_took, td_held


def main(rates: list[int]) -> None:
    lab = netnb.Lab("bench-capture")
    sw = lab.switch("sw", subnet="10.0.0.0/24")
    lab.link(lab.host("A"), sw)
    lab.link(lab.host("B"), sw)
    with lab:
        lab["A"].ping("10.0.0.2", count=1)  # ARP resolved before the stream starts
        print(f"{DURATION:.0f} s of 64-byte UDP per rate, captured at B:eth0 by netnb and by tcpdump at once\n")
        print(f"{'rate/s':>8} {'offered':>9} {'netnb':>9} {'dropped':>8} {'tcpdump':>9} {'dropped':>8}  verdict")
        for rate in rates:
            offered, nb, nb_drop, td, td_drop = one_rate(lab, rate)
            verdict = "ok" if nb >= td and (rate > 50_000 or nb_drop == 0) else "BELOW TARGET"
            print(f"{rate:>8} {offered:>9} {nb:>9} {nb_drop:>8} {td:>9} {td_drop:>8}  {verdict}", flush=True)
        n, stop_s, repr_s = table_open_time(lab)
        print(f"\n{n} captured packets: stop() {stop_s:.3f} s, table repr {repr_s:.3f} s (target: repr < 1 s)")
    print("\nopening a capture at N switch ports: start time and kernel memory held (MemAvailable drop), "
          "beside N `tcpdump -w` processes\n(target: 32 points start in < 1 s and hold < 256 MiB)")
    print(f"{'points':>6} {'netnb start':>12} {'netnb MiB':>10} {'tcpdump start':>14} {'tcpdump MiB':>12}")
    for points in (1, 8, 32):
        took, held, td_took, td_held = opening_cost(points)
        print(f"{points:>6} {took:>11.3f}s {held:>10.0f} {td_took:>13.3f}s {td_held:>12.0f}", flush=True)


if __name__ == "__main__":
    main([int(r) for r in sys.argv[1:]] or [10_000, 50_000, 100_000, 200_000])
