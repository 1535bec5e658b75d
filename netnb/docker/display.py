"""What Docker prints, as netnb shows it: ``iptables -nvxL`` listings as tables, and Docker's "2 minutes".

>>> ago(0.4), ago(75)
('Less than a second', '1 minute')
"""

from __future__ import annotations

from netnb.model.words import plural
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


def ago(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return "Less than a second" if seconds < 1 else plural(seconds, "second")
    return plural(seconds // 60, "minute")
