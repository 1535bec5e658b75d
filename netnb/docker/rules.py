"""The netfilter rules Docker installs, as data, for one named release.

``DOCKER_RELEASE`` names the layout reproduced: Docker Engine 24.0 with the default iptables
backend (libnetwork's bridge driver) and the userland proxy on. Later releases renamed and split
chains (27.x adds DOCKER-FORWARD; 28.x DOCKER-BRIDGE/DOCKER-CT): compare with a 24.x host.

Rules are (table, chain, args, position) tuples: position None appends (``-A``), 1 inserts at the top
(``-I CHAIN 1``), as the daemon does for each object.

>>> [r.args for r in daemon_rules("docker0", "172.17.0.0/16") if r.table == "nat"][2]
('-s', '172.17.0.0/16', '!', '-o', 'docker0', '-j', 'MASQUERADE')
"""

from __future__ import annotations

from dataclasses import dataclass

from netnb.model.firewall import Chain, Rule

DOCKER_RELEASE = "Docker Engine 24.0 (iptables, bridge driver, userland proxy on)"

FILTER_CHAINS = ("DOCKER", "DOCKER-ISOLATION-STAGE-1", "DOCKER-ISOLATION-STAGE-2", "DOCKER-USER")


@dataclass(frozen=True)
class PlacedRule:
    """A rule and where the daemon puts it (None: appended; n: inserted at position n)."""

    rule: Rule
    position: int | None = None


def daemon_chains() -> list[Chain]:
    """Chains the daemon creates at start, and the FORWARD policy it sets (DROP)."""
    return [Chain("filter", "FORWARD", "DROP"), *[Chain("filter", c) for c in FILTER_CHAINS], Chain("nat", "DOCKER")]


def daemon_rules(bridge: str, subnet: str) -> list[Rule]:
    """What ``dockerd`` installs at start for the default bridge network, in iptables-save order."""
    return [
        Rule("nat", "PREROUTING", ("-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER")),
        Rule("nat", "OUTPUT", ("!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DOCKER")),
        *[p.rule for p in network_rules(bridge, subnet)],
        Rule("filter", "FORWARD", ("-j", "DOCKER-USER")),
        Rule("filter", "FORWARD", ("-j", "DOCKER-ISOLATION-STAGE-1")),
        *[p.rule for p in network_forward_rules(bridge)],
        Rule("filter", "DOCKER-ISOLATION-STAGE-1", ("-j", "RETURN")),
        Rule("filter", "DOCKER-ISOLATION-STAGE-2", ("-j", "RETURN")),
        Rule("filter", "DOCKER-USER", ("-j", "RETURN")),
    ]


def network_rules(bridge: str, subnet: str) -> list[PlacedRule]:
    """NAT and isolation rules of one bridge network (inserted at the top: newest network first)."""
    return [
        PlacedRule(Rule("nat", "POSTROUTING", ("-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE")), 1),
        PlacedRule(Rule("nat", "DOCKER", ("-i", bridge, "-j", "RETURN")), 1),
        PlacedRule(Rule("filter", "DOCKER-ISOLATION-STAGE-1",
                        ("-i", bridge, "!", "-o", bridge, "-j", "DOCKER-ISOLATION-STAGE-2")), 1),
        PlacedRule(Rule("filter", "DOCKER-ISOLATION-STAGE-2", ("-o", bridge, "-j", "DROP")), 1),
    ]


def network_forward_rules(bridge: str) -> list[PlacedRule]:
    """FORWARD rules of one bridge network (appended, in network creation order)."""
    return [PlacedRule(Rule("filter", "FORWARD", args)) for args in (
        ("-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"),
        ("-o", bridge, "-j", "DOCKER"),
        ("-i", bridge, "!", "-o", bridge, "-j", "ACCEPT"),
        ("-i", bridge, "-o", bridge, "-j", "ACCEPT"),
    )]


def port_rules(bridge: str, container_ip: str, host_port: int, container_port: int, proto: str = "tcp") -> list[PlacedRule]:
    """The three rules of one published port: hairpin MASQUERADE, DNAT, and the filter ACCEPT."""
    match = ("-p", proto, "-m", proto, "--dport", str(container_port))
    return [
        PlacedRule(Rule("nat", "POSTROUTING", ("-s", f"{container_ip}/32", "-d", f"{container_ip}/32", *match,
                                               "-j", "MASQUERADE"))),
        PlacedRule(Rule("nat", "DOCKER", ("!", "-i", bridge, "-p", proto, "-m", proto, "--dport", str(host_port),
                                          "-j", "DNAT", "--to-destination", f"{container_ip}:{container_port}"))),
        PlacedRule(Rule("filter", "DOCKER", ("-d", f"{container_ip}/32", "!", "-i", bridge, "-o", bridge, *match,
                                             "-j", "ACCEPT"))),
    ]
