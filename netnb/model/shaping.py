"""A link's rate limit as a token bucket filter (tbf, which these kernels have; netem, for delay and loss,
they lack): the numbers netnb gives it, and how ``tc`` writes them.

A link with ``rate=`` gets a tbf qdisc at the egress of each end: ``rate`` in bit/s, ``burst`` (the bucket:
10 ms of the rate, at least two full frames) and a queue of 50 ms of the rate behind it. The ``tc``
formats are iproute2's (``print_rate``, ``print_size``, ``sprint_time``, and the kernel keeping the
bucket as nanoseconds, which rounds it: 3028 bytes at 10 Mbit/s read back as 3027). Written by hand: the
simulation prints what tc prints, and nothing outside iproute2 does that arithmetic.

>>> parse_rate("10mbit"), parse_rate("1.5Mbit"), parse_rate("64kbps"), parse_rate(2_000_000)
(10000000, 1500000, 512000, 2000000)
>>> rate_text(10_000_000), rate_text(1_234_567), size_text(4096), size_text(3027)
('10Mbit', '1234Kbit', '4Kb', '3027b')
>>> Tbf.for_rate(10_000_000).words()
'rate 10mbit burst 12500 latency 50ms'
>>> Tbf.for_rate(10_000_000).shown(), Tbf(64_000, 3028, 3428).shown()
('rate 10Mbit burst 12500b lat 50ms', 'rate 64Kbit burst 3027b lat 50ms')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: How long a packet may wait in a rate-limited link's queue before it is dropped.
LATENCY_US = 50_000
#: Two full Ethernet frames: a bucket smaller than one frame would pass nothing.
MIN_BURST = 2 * 1514

_UNITS = {"bit": 1, "kbit": 1000, "mbit": 1000**2, "gbit": 1000**3, "tbit": 1000**4,
          "bps": 8, "kbps": 8000, "mbps": 8 * 1000**2, "gbps": 8 * 1000**3,
          "kibit": 1024, "mibit": 1024**2, "gibit": 1024**3}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.I)


def parse_rate(value: object) -> int | None:
    """Bits per second of a rate written as tc writes one (``10mbit``, ``500kbit``, ``1gbit``, ``2mbps`` =
    bytes) or a number of bit/s; None when it is none of these."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value) if value > 0 else None
    if not isinstance(value, str):
        return None
    m = _RATE.match(value)
    if m is None:
        return None
    unit = _UNITS.get(m.group(2).lower() or "bit")
    if unit is None:
        return None
    bits = int(float(m.group(1)) * unit)
    return bits if bits > 0 else None


def rate_text(bits: int) -> str:
    """A rate as tc prints it (iproute2's print_rate: bytes/s as the kernel keeps it, in SI units)."""
    rate = (bits // 8) << 3
    units = ["", "K", "M", "G", "T"]
    i = 0
    while i < len(units) - 1:
        if rate < 1000 or (rate % 1000 and rate < 1000 * 1000):
            break
        rate //= 1000
        i += 1
    return f"{rate}{units[i]}bit"


def size_text(size: int) -> str:
    """A size as tc prints it (iproute2's print_size)."""
    mb, kb = 1024 * 1024, 1024
    if size >= mb and abs(mb * round(size / mb) - size) < 1024:
        return f"{round(size / mb):g}Mb"
    if size >= kb and abs(kb * round(size / kb) - size) < 16:
        return f"{round(size / kb):g}Kb"
    return f"{size}b"


def time_text(us: float) -> str:
    """A time in microseconds as tc prints it: three significant digits (``50ms`` for 50001 us, ``1.23s``,
    ``800us``; 999999 us is ``1e+03ms``, as C's ``%.3g``)."""
    if us >= 1_000_000:
        return f"{us / 1_000_000:.3g}s"
    if us >= 1000:
        return f"{us / 1000:.3g}ms"
    return f"{int(us)}us"


def mult_shift(rate: int) -> tuple[int, int]:
    """The kernel's psched_ratecfg_precompute__: bytes -> nanoseconds as ``(len * mult) >> shift``."""
    factor, mult, shift = 10**9, 1, 0
    while True:
        mult = factor // rate
        if mult & (1 << 31) or factor & (1 << 63):
            return mult, shift
        factor <<= 1
        shift += 1


#: tc's ticks per microsecond (/proc/net/psched: 1000 ns a microsecond, 64 ns a tick).
_TICKS_PER_US = 1000 / 64


@dataclass(frozen=True)
class Tbf:
    """One tbf qdisc: rate in bit/s, bucket (``burst``) and queue (``limit``) in bytes."""

    rate: int
    burst: int
    limit: int

    @classmethod
    def for_rate(cls, bits: int) -> Tbf:
        """What netnb gives a link of ``bits`` per second."""
        return cls.with_latency(bits, max(bits // 8 // 100, MIN_BURST), LATENCY_US)

    @classmethod
    def with_latency(cls, bits: int, burst: int, latency_us: int) -> Tbf:
        """``tc qdisc … tbf rate R burst B latency L``: the queue's limit as tc works it out of the latency."""
        return cls(bits, burst, int((bits // 8) * latency_us / 1_000_000 + burst))

    @property
    def bytes_per_s(self) -> int:
        """The rate as the kernel keeps it."""
        return self.rate // 8

    def bucket_ns(self) -> int:
        """The bucket as the kernel keeps it: the time ``burst`` bytes take (psched_l2t_ns)."""
        mult, shift = mult_shift(self.bytes_per_s)
        return (self.burst * mult) >> shift

    def _bucket_us(self) -> int:
        return int((self.bucket_ns() >> 6) / _TICKS_PER_US)  # (dumped in 64 ns ticks, read back by tc in us)

    def shown_burst(self) -> int:
        """The bucket tc shows: that time as bytes again (tc_calc_xmitsize), a byte or so below ``burst``."""
        return int(self.bytes_per_s * self._bucket_us() / 1_000_000)

    def latency_us(self) -> int:
        """The latency tc shows: how long a full queue takes to drain, less the bucket."""
        return int(1_000_000 * (self.limit / self.bytes_per_s) - self._bucket_us())

    def words(self) -> str:
        """The ``tc qdisc add ... tbf`` arguments that make it."""
        rate = rate_text(self.rate)
        rate = rate.lower() if parse_rate(rate) == self.rate else f"{self.rate}bit"
        return f"rate {rate} burst {self.burst} latency {time_text(LATENCY_US)}"

    def shown(self) -> str:
        """``rate 10Mbit burst 12500b lat 50ms`` as ``tc qdisc show`` ends a tbf line."""
        return f"rate {rate_text(self.rate)} burst {size_text(self.shown_burst())} lat {time_text(self.latency_us())}"
