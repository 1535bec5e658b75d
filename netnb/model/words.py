"""Counting words for messages and titles: ``1 packet``, ``2 packets``, ``3 switches``.

>>> plural(1, "packet"), plural(3, "switch"), plural(0, "container"), plural(2, "proxy")
('1 packet', '3 switches', '0 containers', '2 proxies')
"""

from __future__ import annotations


def plural(n: int, noun: str) -> str:
    """``n`` and ``noun``, in the plural unless ``n`` is 1 (English rules for the nouns netnb counts)."""
    if n == 1:
        return f"{n} {noun}"
    if noun.endswith(("s", "sh", "ch", "x")):
        return f"{n} {noun}es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return f"{n} {noun[:-1]}ies"
    return f"{n} {noun}s"
