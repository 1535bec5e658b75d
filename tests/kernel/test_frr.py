"""Routing daemons (FRR) in nodes: each router's own /etc/frr, started with the lab, converged, gone after."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

import netnb
from netnb.errors import FeatureMissingError
from netnb.model.frr import FRR_INIT

from .helpers import REPO

pytestmark = [pytest.mark.kernel,
              pytest.mark.skipif(not os.path.exists(FRR_INIT), reason="FRR is not installed (scripts/setup.sh --frr)")]

LABS = os.path.join(REPO, "tests", "importers", "labs")


def frr_files() -> dict[str, str]:
    """The machine's own FRR configuration, hashed (no lab may change it)."""
    return {name: hashlib.sha256(open(os.path.join("/etc/frr", name), "rb").read()).hexdigest()
            for name in sorted(os.listdir("/etc/frr")) if os.path.isfile(os.path.join("/etc/frr", name))}


def frr_pids(lab: netnb.Lab) -> set[int]:
    """Pids (the machine's) of the FRR daemons running in ``lab``'s namespaces (other labs may run FRR too)."""
    inodes = set(lab.namespace_inodes().values())
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                daemon = f.read().strip() in ("zebra", "ripd", "ospfd", "bgpd", "staticd", "watchfrr")
            if daemon and os.stat(f"/proc/{pid}/ns/net").st_ino in inodes:
                found.add(int(pid))
        except OSError:
            continue
    return found


def chain(protocol: str, silent: str = "") -> netnb.Lab:
    """h1 - r1 - r2 - r3 - h3, the routers learning the far subnets with ``protocol`` (but ``silent``)."""
    lab = netnb.Lab(f"frr-{protocol}", backend="kernel")
    r1, r2, r3 = lab.router("r1"), lab.router("r2"), lab.router("r3")
    h1, h3 = lab.host("h1"), lab.host("h3")
    lab.link(h1, r1, ip=("10.1.0.2/24", "10.1.0.1/24"))
    lab.link(r1, r2, ip=("10.0.12.1/30", "10.0.12.2/30"))
    lab.link(r2, r3, ip=("10.0.23.1/30", "10.0.23.2/30"))
    lab.link(r3, h3, ip=("10.3.0.1/24", "10.3.0.2/24"))
    h1.route("default", via="10.1.0.1")
    h3.route("default", via="10.3.0.1")
    configs = {
        "rip": lambda i: "router rip\n network 10.0.0.0/8\n redistribute connected\n",
        "ospf": lambda i: "".join(f"interface eth{n}\n ip ospf network point-to-point\n ip ospf hello-interval 1\n"
                                  f" ip ospf dead-interval 4\n" for n in (0, 1))
                          + "router ospf\n network 10.0.0.0/8 area 0\n redistribute connected\n",
        "bgp": lambda i: (f"router bgp 6500{i}\n no bgp ebgp-requires-policy\n"
                          + "".join(f" neighbor {peer} remote-as 6500{asn}\n" for peer, asn in {
                              1: [("10.0.12.2", 2)], 2: [("10.0.12.1", 1), ("10.0.23.2", 3)],
                              3: [("10.0.23.1", 2)]}[i])
                          + " address-family ipv4 unicast\n  redistribute connected\n exit-address-family\n"),
    }
    for i, r in enumerate((r1, r2, r3), 1):
        r.frr(configs[protocol](i) if r.name != silent else "! no routing protocol\n")
    return lab


@pytest.mark.parametrize("protocol, code", [("rip", "R>*"), ("ospf", "O>*"), ("bgp", "B>*")])
def test_routers_learn_their_routes(protocol, code):
    machine = frr_files()
    lab = chain(protocol)
    assert "ip netns exec r1 sh -c '/usr/lib/frr/frrinit.sh start'" in lab.plan().script()
    with lab:
        daemons = frr_pids(lab)
        assert len(daemons) >= 9  # watchfrr, zebra, staticd and the protocol's daemon in each of three routers
        waited = lab.wait_converged(timeout=60)
        assert waited < 60
        assert lab["h1"].ping(lab["h3"], count=1).ok
        table = lab.routing()
        assert table.columns == ["router", "destination", "via", "dev", "protocol"]
        assert [r[0:5] for r in table.rows if r[0] == "r1" and r[1] == "10.3.0.0/24"] == \
            [["r1", "10.3.0.0/24", "10.0.12.2", "eth1", protocol]]
        counts = ", ".join(sorted(["connected 2", f"{protocol} 2"]))  # two subnets each router has, two it learns
        assert table.note == f"r1: {counts}; r2: {counts}; r3: {counts}", table.note
        ends = {(lk.a, lk.b): (lk.label_a, lk.label_b) for lk in table.drawing.links}
        assert ends[("r1", "r2")][0] == f"eth1\n{protocol} 10.0.23.0/30 10.3.0.0/24", ends  # where r1 sends what it learned
        shown = lab["r1"].run("vtysh -c 'show ip route'").stdout
        assert f"{code} 10.3.0.0/24" in shown, shown
        # each router has its own FRR: its own configuration and runtime folder
        assert lab["r1"].read_file("/etc/frr/frr.conf").decode() == lab["r1"].spec.files["/etc/frr/frr.conf"].content.decode()
        assert "zebra.pid" in lab["r1"].run("ls /var/run/frr").stdout.split()
    assert frr_files() == machine  # the machine's /etc/frr is untouched
    assert not [pid for pid in daemons if os.path.exists(f"/proc/{pid}")]  # every daemon went with the lab


def test_wait_converged_names_what_is_missing():
    lab = chain("rip", silent="r3")  # r3 speaks no RIP: r1 never learns 10.3.0.0/24
    with lab:
        with pytest.raises(netnb.NetnbError, match=r"did not converge within 6 s: r1 has no route to 10\.3\.0\.0/24"):
            lab.wait_converged(timeout=6)


def test_frr_needs_the_kernel():
    lab = netnb.Lab("frr-sim", backend="sim")
    with pytest.raises(FeatureMissingError, match="the simulation runs no routing daemons"):
        lab.router("r1").frr("router rip\n")


@pytest.mark.parametrize("path", ["kathara-rip-quagga", "kathara-ospf-frr", "clab/frr.clab.yml"])
def test_imported_routing_labs_converge(path):
    done = subprocess.run([sys.executable, "-m", "netnb.cli", "run", os.path.join(LABS, path), "--ping"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "routing converged in" in done.stdout
    pairs = done.stdout.split(" pings answered")[0].rsplit("\n", 1)[-1]
    answered, total = pairs.split(" of ")
    assert answered == total, done.stdout
