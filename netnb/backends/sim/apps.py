"""The network programs labs run in simulated nodes: ``python3 -m http.server`` (Python's own request
handler, fed from a simulated connection), ``curl`` (7.88's messages and exit codes), ``nc``
(netcat-openbsd's common forms) and Docker's userland proxy.

Each is a generator on the virtual clock: it waits for what its sockets receive, never on wall time.

>>> parse_url("http://10.0.0.2:8080/x")
('10.0.0.2', 8080, '/x')
"""

from __future__ import annotations

import email.utils
import http.server
import io
import os
import sys
import time
from typing import Any

from netnb.backends.sim.clock import NS, Sleep, Task, Until
from netnb.backends.sim.shell import Ctx, PROGRAMS, Run, program
from netnb.backends.sim.tools import resolve_name
from netnb.backends.sim.transport import Tcp, Udp
from netnb.backends.sim.world import IPv4

CURL_AGENT = "curl/7.88.1"
#: Time Python's request handler spends between two writes (opening the file, copying it): long enough
#: for the client's ACK of the headers to come back first, as it does on a kernel.
HANDLER_GAP_S = 0.0002
#: ... and between its last write and closing the connection.
CLOSE_GAP_S = 0.00005
#: Service names netcat prints (from /etc/services; Pyodide has none to read).
SERVICES = {21: "ftp", 22: "ssh", 23: "telnet", 25: "smtp", 53: "domain", 80: "http", 110: "pop3", 143: "imap2",
            443: "https", 3306: "mysql", 5432: "postgresql", 6379: "redis", 8080: "http-alt"}


def parse_url(url: str) -> tuple[str, int, str]:
    """(host, port, path) of an http:// URL."""
    rest = url.split("://", 1)[1] if "://" in url else url
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    return host, int(port) if port else 80, "/" + path


def _connect(ctx: Ctx, address: IPv4, port: int) -> Tcp | str:
    """A TCP socket connecting to ``address:port`` (an error text if it cannot even start)."""
    stack = ctx.stack
    src = stack.lookup_source(address.packed)
    if src is None:
        return "Network is unreachable"
    sock = Tcp(stack, src, stack.ephemeral_port())
    sock.connect(address.packed, port)
    return sock


def _listen(ctx: Ctx, address: str, port: int) -> Tcp | str:
    sock = Tcp(ctx.stack, IPv4(address).packed, port)
    error = ctx.stack.bind(sock)
    if error is not None:
        return error
    sock.state = "LISTEN"
    return sock


def _spawn(ctx: Ctx, run: Run) -> Task:
    """Run a piece of a program on its own (one connection of a server)."""
    task = Task(ctx.world.clock, run)
    ctx.world.tasks.append(task)
    task.start()
    return task


# -- python3 -m ... -------------------------------------------------------------------------------------
@program("python3", "python")
def python(ctx: Ctx) -> Run:
    args = ctx.argv[1:]
    while args and args[0] in ("-u", "-I", "-B"):
        args = args[1:]
    if args[:1] == ["-m"] and len(args) >= 2:
        module, rest = args[1], args[2:]
        runner = MODULES.get(module)
        if runner is not None:
            return (yield from runner(ctx, rest))
    ctx.error(f"python3: {' '.join(args)!r} is not simulated: the simulation runs python3 -m "
              f"{', -m '.join(MODULES)}; anything else needs a real kernel (Lab(..., backend='kernel'))")
    return 2


PROGRAMS[sys.executable] = python


class _Connection:
    """What http.server's handler takes for a socket: the request bytes in, what it sends collected."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.sent: list[bytes] = []

    def makefile(self, mode: str, bufsize: int = -1) -> Any:
        return io.BytesIO(self.request)

    def sendall(self, data: bytes) -> None:
        self.sent.append(bytes(data))

    def settimeout(self, timeout: float | None) -> None:
        pass


def _handler(ctx: Ctx, directory: str) -> type:
    clock = ctx.world.clock

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, directory=directory, **kw)

        def date_time_string(self, timestamp: float | None = None) -> str:
            return email.utils.formatdate(clock.now / NS if timestamp is None else timestamp, usegmt=True)

        def log_date_time_string(self) -> str:
            year, month, day, hh, mm, ss, *_ = time.localtime(clock.now / NS)
            return "%02d/%3s/%04d %02d:%02d:%02d" % (day, self.monthname[month], year, hh, mm, ss)

        def log_message(self, format: str, *args: Any) -> None:
            ctx.error(f"{self.address_string()} - - [{self.log_date_time_string()}] {format % args}")

    return Handler


def http_server(ctx: Ctx, args: list[str]) -> Run:
    port, bind, directory = 8000, "0.0.0.0", None
    words = list(args)
    while words:
        w = words.pop(0)
        if w in ("-b", "--bind") and words:
            bind = words.pop(0)
        elif w in ("-d", "--directory") and words:
            directory = words.pop(0)
        elif w.isdigit():
            port = int(w)
    sock = _listen(ctx, bind, port)
    if isinstance(sock, str):
        ctx.error(f"OSError: [Errno 98] {sock}" if "in use" in sock else f"OSError: [Errno 99] {sock}")
        return 1
    ctx.print(f"Serving HTTP on {bind} port {port} (http://{bind}:{port}/) ...")
    handler = _handler(ctx, _served(ctx, directory) or ctx.stack.world.folder or os.getcwd())
    try:
        while True:
            yield Until(lambda: bool(sock.backlog))
            conn = sock.accept()
            if conn is not None:
                _spawn(ctx, _serve_one(ctx, conn, handler))
    finally:
        sock.close()


def _served(ctx: Ctx, directory: str | None) -> str | None:
    """The folder to serve: where the node has files of its own under ``directory`` (``node.file``, a
    redirection), a copy of them made in the lab's folder, as the node's view shows them; else ``directory``."""
    if directory is None or not directory.startswith("/"):
        return directory
    prefix = directory.rstrip("/") + "/"
    own = {path[len(prefix):]: data for path, data in ctx.stack.files.items() if path.startswith(prefix)}
    if not own or not ctx.stack.world.folder:
        return directory
    import tempfile

    copy = tempfile.mkdtemp(prefix="served-", dir=ctx.stack.world.folder)
    for rel, data in own.items():
        target = os.path.join(copy, *rel.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(data)
    return copy


def _serve_one(ctx: Ctx, conn: Tcp, handler: type) -> Run:
    yield Until(lambda: b"\r\n\r\n" in conn.received or conn.peer_closed or conn.state == "CLOSED", 30.0)
    request = conn.read()
    fake = _Connection(request)
    assert conn.remote is not None
    handler(fake, (str(IPv4(conn.remote[0])), conn.remote[1]), None)
    for i, chunk in enumerate(fake.sent):
        if i:
            yield Sleep(HANDLER_GAP_S)
        conn.send(chunk)
    yield Sleep(CLOSE_GAP_S)
    conn.close()
    return 0


# -- curl -----------------------------------------------------------------------------------------------
@program("curl")
def curl(ctx: Ctx) -> Run:
    args = ctx.argv[1:]
    silent = show_errors = include = head = False
    max_time: float | None = None
    out_file = None
    write_out = ""
    url = None
    while args:
        a = args.pop(0)
        if a.startswith("-") and not a.startswith("--") and len(a) > 2 and all(c in "sSiIvfL" for c in a[1:]):
            args[:0] = [f"-{c}" for c in a[1:]]
            continue
        if a in ("-s", "--silent"):
            silent = True
        elif a in ("-S", "--show-error"):
            show_errors = True
        elif a in ("-i", "--include"):
            include = True
        elif a in ("-I", "--head"):
            head = True
        elif a in ("-m", "--max-time") and args:
            max_time = float(args.pop(0))
        elif a in ("-o", "--output") and args:
            out_file = args.pop(0)
        elif a in ("-w", "--write-out") and args:
            write_out = args.pop(0)
        elif a in ("-f", "--fail", "-L", "--location", "-v"):
            continue
        elif a.startswith("-"):
            ctx.error(f"curl: option {a}: is not simulated")
            return 2
        else:
            url = a
    if url is None:
        ctx.error("curl: no URL specified!\ncurl: try 'curl --help' or 'curl --manual' for more information")
        return 2
    host, port, path = parse_url(url)
    clock = ctx.world.clock
    began = clock.now
    deadline = None if max_time is None else began + int(max_time * NS)

    def fail(code: int, text: str) -> int:
        if not silent or show_errors:
            ctx.error(f"curl: ({code}) {text}")
        if write_out:
            ctx.write(_write_out(write_out, 0, clock.now - began))
        return code

    address = resolve_name(ctx, host)
    if address is None:
        return fail(6, f"Could not resolve host: {host}")
    sock = _connect(ctx, address, port)
    if isinstance(sock, str):
        return fail(7, f"Failed to connect to {host} port {port} after 0 ms: Couldn't connect to server")
    left = None if deadline is None else max(deadline - clock.now, 0) / NS
    yield Until(lambda: sock.state != "SYN_SENT", left)
    elapsed = (clock.now - began) // 1_000_000
    if sock.state == "SYN_SENT":
        sock.close()
        return fail(28, f"Connection timed out after {elapsed} milliseconds")
    if sock.error is not None or sock.state == "CLOSED":
        return fail(7, f"Failed to connect to {host} port {port} after {elapsed} ms: Couldn't connect to server")
    host_header = host if port == 80 else f"{host}:{port}"
    method = "HEAD" if head else "GET"
    sock.send(f"{method} {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {CURL_AGENT}\r\nAccept: */*\r\n\r\n"
              .encode())
    response = bytearray()

    def complete() -> bool:
        response.extend(sock.read())
        return sock.peer_closed or sock.state == "CLOSED" or _whole(bytes(response), head)

    left = None if deadline is None else max(deadline - clock.now, 0) / NS
    yield Until(complete, left)
    response.extend(sock.read())
    if not complete():
        sock.abort()
        elapsed = (clock.now - began) // 1_000_000
        return fail(28, f"Operation timed out after {elapsed} milliseconds with {len(response)} bytes received")
    yield Sleep(HANDLER_GAP_S)  # curl writes the body out and cleans up before it closes: the server's FIN is in
    response.extend(sock.read())
    sock.close()
    head_bytes, _, body = bytes(response).partition(b"\r\n\r\n")
    status = 0
    try:
        status = int(head_bytes.split(b"\r\n", 1)[0].split()[1])
    except (IndexError, ValueError):
        return fail(52, "Empty reply from server")
    shown = (head_bytes + b"\r\n\r\n" if include or head else b"") + (b"" if head else body)
    if out_file not in ("/dev/null",):
        ctx.write(shown.decode("utf-8", "replace"))
    if write_out:
        ctx.write(_write_out(write_out, status, clock.now - began, 0 if head else len(body)))
    return 0


def _whole(response: bytes, head: bool) -> bool:
    """Whether an HTTP response is complete by its Content-Length (servers that keep the connection)."""
    head_bytes, sep, body = response.partition(b"\r\n\r\n")
    if not sep:
        return False
    if head:
        return True
    for line in head_bytes.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip() or 0)
    return False


def _write_out(fmt: str, status: int, elapsed_ns: int = 0, size: int = 0) -> str:
    """curl's ``-w``: the response code, ``time_total`` (seconds, 6 decimals), ``size_download`` (bytes of
    body) and ``speed_download`` (bytes a second, whole)."""
    seconds = elapsed_ns / NS
    speed = int(size / seconds) if seconds > 0 else 0
    return fmt.replace("%{http_code}", f"{status:03d}").replace("%{response_code}", f"{status:03d}") \
        .replace("%{time_total}", f"{seconds:.6f}").replace("%{size_download}", str(size)) \
        .replace("%{speed_download}", str(speed)).replace("\\n", "\n")


# -- nc (netcat-openbsd) ----------------------------------------------------------------------------------
@program("nc", "netcat", "nc.openbsd")
def nc(ctx: Ctx) -> Run:
    args = ctx.argv[1:]
    listen = udp = zero = verbose = False
    wait: float | None = None
    words: list[str] = []
    while args:
        a = args.pop(0)
        if a.startswith("-") and len(a) > 1 and a != "-":
            for i, c in enumerate(a[1:]):
                if c == "l":
                    listen = True
                elif c == "u":
                    udp = True
                elif c == "z":
                    zero = True
                elif c == "v":
                    verbose = True
                elif c in "nNkd":
                    continue
                elif c in "wpqs":
                    value = a[2 + i:] or (args.pop(0) if args else "")
                    if c == "w":
                        wait = float(value)
                    elif c == "p":
                        words.append(value)
                    break
                else:
                    ctx.error(f"nc: invalid option -- '{c}'")
                    return 1
        else:
            words.append(a)
    if listen:
        port = int(words[-1])
        bind = words[0] if len(words) > 1 else "0.0.0.0"
        return (yield from (_nc_listen_udp(ctx, bind, port) if udp else _nc_listen(ctx, bind, port, verbose)))
    if len(words) < 2:
        ctx.error("usage: nc [-46CDdFhklNnrStUuvZz] [-I length] [-i interval] [-M ttl]\n\t  [-m minttl] [-O length] "
                  "[-P proxy_username] [-p source_port]\n\t  [-q seconds] [-s sourceaddr] [-T keyword] [-V rtable] "
                  "[-W recvlimit] [-w timeout]\n\t  [-X proxy_protocol] [-x proxy_address[:port]] [destination] [port]")
        return 1
    host, port = words[0], int(words[1])
    address = resolve_name(ctx, host)
    if address is None:
        ctx.error(f"nc: getaddrinfo for host \"{host}\" port {port}: Name or service not known")
        return 1
    if udp:
        sock = Udp(ctx.stack, bytes(4), ctx.stack.ephemeral_port())
        ctx.stack.bind(sock)
        try:
            if ctx.stdin:
                sock.sendto(ctx.stdin.encode(), address.packed, port)
            if verbose:
                ctx.error(f"Connection to {host} {port} port [udp/{SERVICES.get(port, '*')}] succeeded!")
            yield Until(lambda: bool(sock.queue), wait if wait is not None else 0.0)
            for _, _, data in sock.queue:
                ctx.write(data.decode("utf-8", "replace"))
        finally:
            sock.close()
        return 0
    conn = _connect(ctx, address, port)
    if isinstance(conn, str):
        if verbose:
            ctx.error(f"nc: connect to {host} port {port} (tcp) failed: {conn}")
        return 1
    yield Until(lambda: conn.state != "SYN_SENT", wait)
    if conn.state != "ESTABLISHED":
        error = conn.error or "Connection timed out"
        conn.close()
        if verbose:  # (netcat-openbsd says why only with -v)
            ctx.error(f"nc: connect to {host} port {port} (tcp) failed: {error}")
        return 1
    if verbose:
        ctx.error(f"Connection to {host} {port} port [tcp/{SERVICES.get(port, '*')}] succeeded!")
    if zero:
        conn.close()
        return 0
    if ctx.stdin:
        conn.send(ctx.stdin.encode())
    yield Until(lambda: conn.peer_closed or conn.state == "CLOSED", wait)
    ctx.write(conn.read().decode("utf-8", "replace"))
    conn.close()
    return 0


def _nc_listen(ctx: Ctx, address: str, port: int, verbose: bool) -> Run:
    sock = _listen(ctx, address, port)
    if isinstance(sock, str):
        ctx.error(f"nc: {sock}")
        return 1
    try:
        yield Until(lambda: bool(sock.backlog))
        conn = sock.accept()
        assert conn is not None and conn.remote is not None
        if verbose:
            ctx.error(f"Connection received on {IPv4(conn.remote[0])} {conn.remote[1]}")
        if ctx.stdin:
            conn.send(ctx.stdin.encode())
        while True:
            yield Until(lambda: bool(conn.received) or conn.peer_closed or conn.state == "CLOSED")
            data = conn.read()
            if data:
                ctx.write(data.decode("utf-8", "replace"))
            if conn.peer_closed or conn.state == "CLOSED":
                break
        conn.close()
    finally:
        sock.close()
    return 0


def _nc_listen_udp(ctx: Ctx, address: str, port: int) -> Run:
    sock = Udp(ctx.stack, IPv4(address).packed, port)
    error = ctx.stack.bind(sock)
    if error is not None:
        ctx.error(f"nc: {error}")
        return 1
    try:
        while True:
            yield Until(lambda: bool(sock.queue))
            for _, _, data in sock.queue:
                ctx.write(data.decode("utf-8", "replace"))
            sock.queue.clear()
    finally:
        sock.close()


# -- docker-proxy ----------------------------------------------------------------------------------------
def docker_proxy(ctx: Ctx, args: list[str]) -> Run:
    opts = dict(zip(args[::2], args[1::2]))
    host_ip, host_port = opts.get("-host-ip", "0.0.0.0"), int(opts["-host-port"])
    container_ip, container_port = opts["-container-ip"], int(opts["-container-port"])
    sock = _listen(ctx, host_ip, host_port)
    if isinstance(sock, str):
        ctx.error(f"docker-proxy: listen tcp4 {host_ip}:{host_port}: bind: {sock.lower()}")
        return 1
    ctx.print(f"docker-proxy {host_ip}:{host_port} -> {container_ip}:{container_port}")
    try:
        while True:
            yield Until(lambda: bool(sock.backlog))
            client = sock.accept()
            if client is not None:
                _spawn(ctx, _splice(ctx, client, IPv4(container_ip), container_port))
    finally:
        sock.close()


def _splice(ctx: Ctx, client: Tcp, address: IPv4, port: int) -> Run:
    upstream = _connect(ctx, address, port)
    if isinstance(upstream, str):
        client.close()
        return 1
    yield Until(lambda: upstream.state != "SYN_SENT", 5.0)
    if upstream.state != "ESTABLISHED":
        client.close()
        return 1
    while True:
        yield Until(lambda: bool(client.received) or bool(upstream.received) or client.peer_closed
                    or upstream.peer_closed)
        for a, b in ((client, upstream), (upstream, client)):
            data = a.read()
            if data:
                b.send(data)
        if client.peer_closed or upstream.peer_closed:
            client.close()
            upstream.close()
            return 0


# -- a VM's guest ------------------------------------------------------------------------------------
def vm_guest(ctx: Ctx, args: list[str]) -> Run:
    """netnb.vm's guest on a simulated TAP device: the same Guest, driven by the virtual clock."""
    from netnb.backends.sim.world import WIRE_NS, Tap
    from netnb.vm import Guest

    opts = dict(zip(args[::2], args[1::2]))
    tap = ctx.stack.devices.get(opts.get("--tap", ""))
    if not isinstance(tap, Tap):
        ctx.error(f"netnb-vm: no TAP device {opts.get('--tap')!r} in this node")
        return 1
    if tap.reader is not None:
        ctx.error(f"OSError: [Errno 16] Device or resource busy: {tap.name} is open already")
        return 1
    clock = ctx.world.clock
    guest = Guest(opts["--mac"], opts["--ip"], opts.get("--gateway"),
                  lambda frame: clock.after(WIRE_NS, tap.inject, frame), clock=lambda: clock.now / NS,
                  ident=ctx.world.rnd.getrandbits(16))
    tap.reader = guest.handle
    ctx.shared["serve"] = guest.answer
    ctx.print(f"vm on {tap.name}: {opts['--mac']} {opts['--ip']} gateway {opts.get('--gateway')}")
    try:
        yield Until(lambda: False)
    finally:
        tap.reader = None
        ctx.shared.pop("serve", None)
    return 0


MODULES = {"http.server": http_server, "netnb.docker.proxy": docker_proxy, "netnb.vm": vm_guest}
