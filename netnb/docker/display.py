"""What Docker prints, as netnb shows it: Docker's "2 minutes" (iptables listings: netnb.view.firewall).

>>> ago(0.4), ago(75)
('Less than a second', '1 minute')
"""

from __future__ import annotations

from netnb.model.words import plural

def ago(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return "Less than a second" if seconds < 1 else plural(seconds, "second")
    return plural(seconds // 60, "minute")
