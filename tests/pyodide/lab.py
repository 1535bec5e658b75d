# What tests/pyodide/test_pyodide.py runs inside Pyodide: a simulated lab from end to end, and what a
# reader looks at (packet table, journey, ladder, drawing) with scapy loaded and no matplotlib.
import os
import sys
import time

os.environ["NETNB_BACKEND"] = "sim"
assert sys.platform == "emscripten", sys.platform
started = time.perf_counter()
import netnb  # noqa: E402

print(netnb.require_labs())
lab = netnb.Lab("browser")
a, b, r = lab.host("A"), lab.host("B"), lab.router("R")
lab.link(a, r, ip=("10.0.1.2/24", "10.0.1.1/24"))
lab.link(r, b, ip=("10.0.2.1/24", "10.0.2.2/24"))
a.route("default", via="10.0.1.1")
b.route("default", via="10.0.2.1")
r.masquerade("10.0.1.0/24", out="eth1")
assert "simulated" in repr(lab)
with lab:
    print(f"built in {time.perf_counter() - started:.2f} s")
    ping = a.ping(b, count=2)
    assert ping.ok and ping.received == 2, ping.output
    assert not any(m.startswith("scapy") for m in sys.modules), "scapy loaded before any frame was looked at"
    print(ping.output)
    server = b.popen("python3 -m http.server 8080").wait_listening(8080)
    with lab.capture(r, filter="tcp port 8080") as cap:
        code = a.run("curl -s -o /dev/null -w '%{http_code}' http://10.0.2.2:8080/").stdout
    assert code == "200", code
    syns = cap.filter("tcp[tcpflags] = tcp-syn")
    assert len(syns) == 2, len(syns)  # the SYN into R and out of it, its source rewritten by MASQUERADE
    nat = r.run("iptables -t nat -nvL POSTROUTING").stdout
    masquerade = next(line for line in nat.splitlines() if "MASQUERADE" in line)
    assert int(masquerade.split()[0]) == 2, nat  # the ping's connection and the HTTP one
    print(nat)
    print(a.run("traceroute -n -q 1 10.0.2.2").stdout)
    server.stop()
    # What a reader looks at: the packet table, one packet's journey across the NAT, a ladder, the drawing.
    t = time.perf_counter()
    with lab.capture(a, r, b) as seen:
        a.ping(b, count=1)
    table = seen.table()
    assert "10.0.2.2" in table.text() and "echo-request" in table.text(), table.text()
    bundle = seen._repr_mimebundle_()
    assert "<table" in bundle["text/html"], bundle
    request = seen.filter("icmp")[0]
    journey = seen.journey(request)
    hops = str(journey)
    assert journey.changed("ip.src") == [("10.0.1.2", "10.0.2.1")], hops  # MASQUERADE at R
    print(hops)
    print(f"capture table and journey (scapy loaded) in {time.perf_counter() - t:.2f} s")
    ladder = seen.ladder()._repr_mimebundle_()
    assert ladder["image/svg+xml"].startswith("<svg") and "echo-request" in ladder["image/svg+xml"], ladder
    drawing = lab.draw()
    assert drawing.figure is None, "matplotlib is not in this Pyodide: the plain SVG path draws"
    svg = drawing._repr_mimebundle_()["image/svg+xml"]
    for name in ("A", "B", "R", "10.0.1.2/24", "simulated"):
        assert name in svg, name
    html = lab._repr_mimebundle_()["text/html"]
    assert "<svg" in html and "<table" in html
print(f"PYODIDE OK in {time.perf_counter() - started:.2f} s")
