"""The in-memory backend keeps the state its operations describe; here it is checked against the kernel
carrying out the same labs: every node's interfaces and routes must read back alike. (The seed of the
differential tests the simulated backend will be held to.)"""

from __future__ import annotations

import pytest

import netnb
from netnb.backends.memory import MemoryBackend
from netnb.docker import DockerHost

from ..labs import routed, three_pcs
from ..unit.test_backends import services

pytestmark = pytest.mark.kernel


def docker_lab(name: str) -> netnb.Lab:
    lab = netnb.Lab(name)
    lan = lab.switch("lan", subnet="192.168.3.0/24")
    lab.internet(lan, gateway="192.168.3.1")
    host = DockerHost(lab, "u1", lan, ip="192.168.3.2")
    lab.on_start(lambda lab: host.run("web", command="python3 -m http.server 8080", expose=[8080],
                                      publish_all=True) and None)
    return lab


def observed(lab: netnb.Lab) -> dict[str, object]:
    """What a user reads back from every node: interfaces (no indexes, MACs or counters) and routes."""
    out: dict[str, object] = {}
    for node in lab:
        # A bridge's own operstate is UNKNOWN until the kernel's link watch has run after its ports came up,
        # and start() does not wait for that (a bridge forwards meanwhile): timed, so read as settled.
        ifaces = sorted((i.name, i.kind, "UP" if i.kind == "bridge" and i.state == "UNKNOWN" else i.state, i.mtu,
                         i.addresses, i.master) for i in node.interfaces())
        routes = sorted((r.dest, r.via, r.dev, r.proto, r.scope, r.src) for r in node.routes()) \
            if isinstance(node, netnb.Host) else []
        out[node.name] = (ifaces, routes)
    return out


@pytest.mark.parametrize("make", [three_pcs, routed, docker_lab], ids=["three-pcs", "routed", "docker"])
def test_memory_and_kernel_read_back_the_same_lab_alike(make):
    kernel = make(f"agree-{make.__name__}")
    memory = make(f"agree-{make.__name__}")
    memory.backend = MemoryBackend(services=services)
    with kernel, memory:
        got_kernel, got_memory = observed(kernel), observed(memory)
    differences = {node: (got_kernel[node], got_memory.get(node)) for node in got_kernel
                   if got_kernel[node] != got_memory.get(node)}
    assert not differences, "\n".join(f"{node}:\n  kernel {k}\n  memory {m}" for node, (k, m) in differences.items())
