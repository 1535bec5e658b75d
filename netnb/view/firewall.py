"""``iptables -nvxL`` listings as tables with their packet and byte counters (a node's firewall, a Docker
host's NAT). iptables prints no machine-readable listing; its columns are fixed, so they are split here.

>>> t = rules_table("Chain FORWARD (policy DROP 3 packets, 252 bytes)\\n pkts bytes target prot opt in out source destination\\n"
...                 "    2   168 ACCEPT  1  --  eth0  eth1  0.0.0.0/0  0.0.0.0/0", "filter of R")
>>> t.rows[0][:4], t.rows[1][:5]
(['FORWARD', '3', '252', 'policy DROP'], ['FORWARD', '2', '168', 'ACCEPT', 'icmp'])
"""

from __future__ import annotations

from netnb.view.table import Table

PROTOCOLS = {"0": "all", "1": "icmp", "6": "tcp", "17": "udp"}


def rules_table(listing: str, title: str) -> Table:
    """``iptables -nvxL`` output as one table: chain, packets, bytes, target, protocol, in, out, source,
    destination and the rest of the match (iptables prints no machine-readable form; its columns are fixed)."""
    rows, chain = [], ""
    for line in listing.splitlines():
        if line.startswith("Chain "):
            words = line.split()
            chain = words[1]
            if "policy" in line:
                rows.append([chain, words[4], words[6], f"policy {words[3]}", "", "", "", "", "", ""])
            continue
        words = line.split()
        if not words or words[0] == "pkts":
            continue
        pkts, byts, target, prot, _opt, iface_in, iface_out, src, dst, *rest = words + [""] * 9
        prot = PROTOCOLS.get(prot, prot)  # iptables-nft 1.8.9 prints numbers where older releases said "all"
        rows.append([chain, pkts, byts, target, prot, iface_in, iface_out, src, dst, " ".join(rest).strip()])
    return Table(["chain", "pkts", "bytes", "target", "prot", "in", "out", "source", "destination", "match"], rows,
                 title=title)
