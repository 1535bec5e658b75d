"""docker-proxy: Docker's userland proxy, which forwards a published host port to a container.

Docker starts one per published port (``userland-proxy`` is on by default). The DNAT rules cover
traffic from other machines; the proxy answers what DNAT cannot see, such as connections to
``127.0.0.1:<host port>`` from the Docker host itself, and (because the DOCKER nat chain RETURNs
traffic from docker0) connections from containers to the host's published port. Same flags as Docker's.

    python -m netnb.docker.proxy -proto tcp -host-ip 0.0.0.0 -host-port 49153 \\
        -container-ip 172.17.0.2 -container-port 8080
"""

from __future__ import annotations

import argparse
import selectors
import socket
import sys


def _pump(sel: selectors.BaseSelector, a: socket.socket, b: socket.socket) -> None:
    for s in (a, b):
        s.setblocking(False)
    sel.register(a, selectors.EVENT_READ, b)
    sel.register(b, selectors.EVENT_READ, a)


def serve(host_ip: str, host_port: int, container_ip: str, container_port: int) -> None:
    """Accept on host_ip:host_port and splice each connection to the container, until killed."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host_ip, host_port))
    listener.listen(128)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    print(f"docker-proxy {host_ip}:{host_port} -> {container_ip}:{container_port}", flush=True)
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if key.data is None:
                client, _ = sock.accept()
                try:
                    upstream = socket.create_connection((container_ip, container_port), timeout=5)
                except OSError:
                    client.close()
                    continue
                _pump(sel, client, upstream)
                continue
            peer: socket.socket = key.data
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                try:
                    peer.sendall(data)
                    continue
                except OSError:
                    pass
            for s in (sock, peer):
                try:
                    sel.unregister(s)
                except (KeyError, ValueError):
                    pass
                s.close()


def main(argv: list[str] | None = None) -> None:
    """Parse Docker's docker-proxy flags and serve."""
    p = argparse.ArgumentParser(prog="docker-proxy")
    p.add_argument("-proto", default="tcp", choices=["tcp"])
    p.add_argument("-host-ip", default="0.0.0.0")
    p.add_argument("-host-port", type=int, required=True)
    p.add_argument("-container-ip", required=True)
    p.add_argument("-container-port", type=int, required=True)
    a = p.parse_args(argv)
    serve(a.host_ip, a.host_port, a.container_ip, a.container_port)


if __name__ == "__main__":
    main(sys.argv[1:])
