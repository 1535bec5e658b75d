"""``ping`` (iputils 20221126's timing, exit rules and output) and ``sysctl`` for simulated nodes.

``ping`` follows iputils' main loop: a probe every interval; after the last one it waits ``-W`` seconds if
nothing came back yet, else twice the slowest reply (at least one interval); it stops early once every probe
was answered or reported as an error; its summary prints the same counters, ``time``, ``rtt`` and ``pipe``.

>>> rtt_text(45)
'0.045'
"""

from __future__ import annotations

import math
import struct

from netnb.backends.sim import frames as fr
from netnb.backends.sim.clock import NS, Sleep, Until
from netnb.backends.sim.shell import Ctx, Run, program
from netnb.backends.sim.world import Device, IPv4

_ICMP_TEXT = {
    (3, 0): "Destination Net Unreachable", (3, 1): "Destination Host Unreachable",
    (3, 2): "Destination Protocol Unreachable", (3, 3): "Destination Port Unreachable",
    (3, 13): "Packet filtered", (11, 0): "Time to live exceeded",
}


def rtt_text(us: int) -> str:
    """A round trip in microseconds as ping prints it after ``time=``."""
    if us >= 100000 - 50:
        return f"{(us + 500) // 1000}"
    if us >= 10000 - 5:
        return f"{(us + 50) // 1000}.{((us + 50) % 1000) // 100:01d}"
    if us >= 1000:
        return f"{(us + 5) // 1000}.{((us + 5) % 1000) // 10:02d}"
    return f"{us // 1000}.{us % 1000:03d}"


def resolve_name(ctx: Ctx, name: str) -> IPv4 | None:
    """An address, or a name from this process's /etc/hosts."""
    try:
        return IPv4(name)
    except ValueError:
        pass
    hosts = ctx.read_file("/etc/hosts") or ""
    for line in hosts.splitlines():
        words = line.split("#")[0].split()
        if len(words) >= 2 and name in words[1:]:
            try:
                return IPv4(words[0])
            except ValueError:
                continue
    return None


def reverse_name(ctx: Ctx, address: IPv4) -> str | None:
    """The first name /etc/hosts (as this process sees it) gives ``address``, or None."""
    for line in (ctx.read_file("/etc/hosts") or "").splitlines():
        words = line.split("#")[0].split()
        if len(words) >= 2 and words[0] == str(address):
            return words[1]
    return None


def _number(text: str, kind: type = float) -> float:
    value = kind(text)
    if isinstance(value, float) and (math.isnan(value) or value < 0):
        raise ValueError(text)
    return value


@program("ping")
def ping(ctx: Ctx) -> Run:
    args = ctx.argv[1:]
    count, interval, linger, size, ttl, df, quiet = 0, 1.0, 10.0, 56, 64, None, False
    numeric = False
    target = None
    try:
        while args:
            a = args.pop(0)
            if a == "-n":
                numeric = True
                continue
            if a == "-4":
                continue
            if a == "-q":
                quiet = True
            elif a == "-c":
                count = int(args.pop(0))
            elif a == "-i":
                interval = _number(args.pop(0))
            elif a == "-W":
                linger = _number(args.pop(0))
            elif a == "-s":
                size = int(args.pop(0))
            elif a == "-t":
                ttl = int(args.pop(0))
            elif a == "-M":
                df = args.pop(0)
            elif a.startswith("-c") and a[2:].isdigit():
                count = int(a[2:])
            elif a.startswith("-W") and a[2:]:
                linger = _number(a[2:])
            elif a.startswith("-"):
                ctx.error(f"ping: option {a} is not simulated")
                return 2
            else:
                target = a
    except (IndexError, ValueError):
        ctx.error("ping: invalid argument")
        return 2
    if target is None:
        ctx.error("ping: usage error: Destination address required")
        return 2
    stack = ctx.stack
    dst = resolve_name(ctx, target)
    if dst is None:
        ctx.error(f"ping: {target}: Name or service not known")
        return 2
    local = stack.local_address(dst) is not None
    route = None if local else stack.lookup(dst)
    if not local and route is None:
        ctx.error("ping: connect: Network is unreachable")
        return 2
    src = (stack.source_for(route, dst) if route is not None else None) or dst
    ctx.print(f"PING {target} ({dst}) {size}({size + 28}) bytes of data.")
    # As iputils: a destination given by name has the addresses of replies looked up too (unless -n).
    numeric = numeric or target == str(dst)

    def shown(address: IPv4) -> str:
        name = None if numeric else reverse_name(ctx, address)
        return f"{name} ({address})" if name else str(address)
    ident = ctx.world.rnd.randrange(1, 65536)
    timing = size >= 16
    clock = ctx.world.clock
    sent_at: dict[int, int] = {}
    st = {"received": 0, "errors": 0, "acked": 0, "pipe": -1, "tsum": 0, "tsum2": 0, "tmin": 1 << 62, "tmax": 0}
    transmitted = 0

    def acknowledge(seq: int) -> None:
        diff = transmitted - seq
        st["pipe"] = max(st["pipe"], diff + 1)

    def on_icmp(packet: fr.Ip, dev: Device) -> None:
        kind, code, rest = fr.parse_icmp(packet.payload)
        if kind == 0 and packet.src == dst.packed:
            rid, seq = struct.unpack_from("!HH", rest)
            if rid != ident or seq not in sent_at:
                return
            st["received"] += 1
            acknowledge(seq)
            us = (clock.now - sent_at[seq]) // 1000
            if timing:
                st["tsum"] += us
                st["tsum2"] += us * us
                st["tmin"] = min(st["tmin"], us)
                st["tmax"] = max(st["tmax"], us)
            if not quiet:
                line = f"{len(packet.payload)} bytes from {shown(IPv4(packet.src))}: icmp_seq={seq} ttl={packet.ttl}"
                ctx.print(line + (f" time={rtt_text(us)} ms" if timing else ""))
            return
        if kind in (3, 11, 4, 5, 12) and len(rest) >= 4 + 28:
            quoted = fr.parse_ip(rest[4:])
            if quoted is None or quoted.dst != dst.packed or quoted.proto != fr.PROTO_ICMP:
                return
            qkind, _, qrest = fr.parse_icmp(quoted.payload + bytes(8))
            rid, seq = struct.unpack_from("!HH", qrest)
            if qkind != 8 or rid != ident:
                return
            st["errors"] += 1
            acknowledge(seq)
            if not quiet:
                reporter = IPv4(packet.src)
                if kind == 3 and code == 4:
                    mtu = struct.unpack_from("!H", rest, 2)[0]
                    text = f"Frag needed and DF set (mtu = {mtu})"
                else:
                    text = _ICMP_TEXT.get((kind, code), f"Bad ICMP type: {kind}")
                ctx.print(f"From {shown(reporter)} icmp_seq={seq} {text}")

    stack.icmp_listeners.append(on_icmp)
    start = clock.now
    last_send = start
    try:
        seq = 0
        while True:
            if count and st["received"] + st["errors"] >= count:
                break
            if count and transmitted >= count:
                wait = max(2 * st["tmax"] / 1e6, interval) if st["received"] else linger
                total = count
                yield Until(lambda: st["received"] + st["errors"] >= total, wait)
                break
            seq += 1
            payload = b""
            if timing:
                now_us = clock.now // 1000
                payload = struct.pack("<qq", now_us // 1_000_000, now_us % 1_000_000)
            payload += bytes(i & 0xFF for i in range(len(payload), size))
            body = fr.echo(8, ident, seq, payload)
            sent_at[seq] = clock.now
            last_send = clock.now
            transmitted += 1
            # -M want (the default) sets DF on what fits the route's MTU and lets the kernel fragment the rest.
            fits = route is None or 20 + len(body) <= route.dev.mtu
            packet = fr.Ip(src.packed, dst.packed, fr.PROTO_ICMP, body, ttl=ttl, ident=stack.next_ip_id(),
                           df=df == "do" or (df != "dont" and fits))
            error = stack.send_ip(packet)
            if error is not None:
                st["errors"] += 1
                text = f"local error: {error}" if error.startswith("message too long") else f"sendmsg: {error}"
                ctx.error(f"ping: {text}")
                if "not simulated" in error:
                    break
            if not count or transmitted < count:
                total = count
                yield Until(lambda: bool(total) and st["received"] + st["errors"] >= total, interval)
    finally:
        stack.icmp_listeners.remove(on_icmp)
    elapsed_ms = (last_send - start + 500_000) // 1_000_000
    loss = (transmitted - st["received"]) * 100.0 / transmitted if transmitted else 0.0
    summary = f"{transmitted} packets transmitted, {st['received']} received"
    if st["errors"]:
        summary += f", +{st['errors']} errors"
    summary += f", {loss:g}% packet loss, time {elapsed_ms}ms"
    ctx.print("")
    ctx.print(f"--- {target} ping statistics ---")
    ctx.print(summary)
    tail = []
    if st["received"] and timing:
        total = st["received"]
        avg = st["tsum"] // total
        var = (st["tsum2"] - (st["tsum"] * st["tsum"]) // total) // total
        mdev = math.isqrt(max(var, 0))
        tail.append(f"rtt min/avg/max/mdev = {rtt_ms(st['tmin'])}/{rtt_ms(avg)}/{rtt_ms(st['tmax'])}/{rtt_ms(mdev)} ms")
    if st["pipe"] > 1:
        tail.append(f"pipe {st['pipe']}")
    ctx.print(", ".join(tail))  # (an empty line when there is neither, as iputils prints it)
    return 0 if st["received"] else 1


def rtt_ms(us: int) -> str:
    return f"{us // 1000}.{us % 1000:03d}"


@program("sysctl")
def sysctl(ctx: Ctx) -> Run:
    args = ctx.argv[1:]
    write = quiet = value_only = False
    keys: list[str] = []
    for a in args:
        if a.startswith("-") and not keys:
            write |= "w" in a
            quiet |= "q" in a
            value_only |= "n" in a
        else:
            keys.append(a)
    known = ctx.stack.sysctl
    rc = 0
    for item in keys:
        key, _, value = item.partition("=")
        key = key.replace("/", ".")
        if key not in known:
            ctx.error(f"sysctl: cannot stat /proc/sys/{key.replace('.', '/')}: No such file or directory")
            rc = 255
            continue
        if "=" in item or write:
            if not _valid_sysctl(key, value):
                ctx.error(f"sysctl: setting key \"{key}\": Invalid argument")
                rc = 255
                continue
            known[key] = value
        if not quiet:
            ctx.print(known[key] if value_only else f"{key} = {known[key]}")
    return rc
    yield


def _valid_sysctl(key: str, value: str) -> bool:
    return value.strip().isdigit()


#: What traceroute spends on each probe (its own socket, connect, send): the probes of a window leave over
#: about a third of a millisecond, as on these machines, while the first answers come back.
PROBE_GAP_S = 0.00002
_ANNOTATION = {301: " !H", 300: " !N", 302: " !P", 304: " !F", 313: " !X", 310: " !X", 309: " !X"}


@program("traceroute")
def traceroute(ctx: Ctx) -> Run:
    """UDP probes from port 33434 with TTL 1, 2... three per hop; routers answer Time exceeded, the
    target Port unreachable (traceroute 2.1's output)."""
    args = ctx.argv[1:]
    max_hops = None
    wait = 5.0
    queries = 3
    target = None
    while args:
        a = args.pop(0)
        if a == "-n":
            continue  # (addresses are always printed as numbers here: there is no DNS to ask)
        if a == "-m" and args:
            max_hops = int(args.pop(0))
        elif a == "-w" and args:
            wait = float(args.pop(0))
        elif a == "-q" and args:
            queries = int(args.pop(0))
        elif a.startswith("-"):
            ctx.error(f"traceroute: option {a} is not simulated")
            return 2
        else:
            target = a
    if target is None:
        ctx.error("Usage: traceroute [-n] [-m max_ttl] [-w wait] [-q nqueries] host")
        return 2
    stack = ctx.stack
    dst = resolve_name(ctx, target)
    if dst is None:
        ctx.error(f"{target}: Name or service not known\nCannot handle \"host\" cmdline arg `{target}' on position 1 "
                  "(argc 2)")
        return 2
    hops = max_hops or 30
    route = stack.lookup(dst)
    if route is None and stack.local_address(dst) is None:
        ctx.error("connect: Network is unreachable")
        return 1
    src = (stack.source_for(route, dst) if route is not None else None) or dst
    ctx.print(f"traceroute to {target} ({dst}), {hops} hops max, 60 byte packets")
    clock = ctx.world.clock
    answers: dict[int, tuple[IPv4, int, int]] = {}   # probe port -> (who, type, when)
    base = 33434

    def on_icmp(packet: fr.Ip, dev: Device) -> None:
        kind, code, rest = fr.parse_icmp(packet.payload)
        if kind not in (3, 11) or len(rest) < 4 + 28:
            return
        quoted = fr.parse_ip(rest[4:])
        if quoted is None or quoted.proto != fr.PROTO_UDP or quoted.dst != dst.packed:
            return
        port = struct.unpack_from("!H", quoted.payload, 2)[0]
        answers.setdefault(port, (IPv4(packet.src), kind * 100 + code, clock.now))

    stack.icmp_listeners.append(on_icmp)
    window = 16  # traceroute's -N: probes in flight at once (all sent straight away, one socket each)
    total = hops * queries
    sent: list[tuple[int, int]] = []  # (port, send time), probe i is for hop i // queries + 1

    def send_up_to(count: int) -> Run:
        while len(sent) < min(count, total):
            i = len(sent)
            port = base + i
            body = fr.udp(src.packed, dst.packed, stack.ephemeral_port(), port, bytes(32))
            sent.append((port, clock.now))
            stack.send_ip(fr.Ip(src.packed, dst.packed, fr.PROTO_UDP, body, ttl=i // queries + 1,
                                ident=stack.next_ip_id(), df=False))
            yield Sleep(PROBE_GAP_S)  # a socket made, connected and sent from for each probe takes time
        return 0

    try:
        for hop in range(1, hops + 1):
            first = (hop - 1) * queries
            mine = range(first, first + queries)
            if len(sent) < first + queries or not all(sent[i][0] in answers for i in mine):
                yield from send_up_to(first + window)  # keep the window full while waiting for this hop
            deadline = max(sent[i][1] for i in mine) + int(wait * NS)
            left = max(deadline - clock.now, 0) / NS
            yield Until(lambda: all(sent[i][0] in answers for i in mine), left)
            cells: list[str] = []
            last_who = None
            reached = False
            for i in mine:
                port, when_sent = sent[i]
                if port not in answers:
                    cells.append(" *")
                    continue
                who, what, when = answers[port]
                us = (when - when_sent) // 1000
                if who != last_who:
                    cells.append(f" {who}")
                cells.append(f"  {us // 1000}.{us % 1000:03d} ms" + _ANNOTATION.get(what, ""))
                last_who = who
                if what != 1100:
                    reached = True
            ctx.print(f"{hop:2d} " + "".join(cells))
            if reached:
                break
    finally:
        stack.icmp_listeners.remove(on_icmp)
    return 0



@program("iptables", "iptables-nft", "iptables-legacy")
def iptables(ctx: Ctx) -> Run:
    """iptables; ``iptables-legacy`` (Kathará's labs use it) is the same tables here, where a kernel keeps the
    legacy and the nft tables apart (both apply to packets; each command lists only its own)."""
    from netnb.backends.sim.netfilter import IptablesError

    try:
        ctx.write(ctx.stack.firewall().command(ctx.argv[1:], ctx.world.clock.now))
    except IptablesError as exc:
        ctx.error(str(exc))
        return exc.status
    return 0
    yield


@program("iptables-save", "iptables-nft-save", "iptables-legacy-save")
def iptables_save(ctx: Ctx) -> Run:
    args, table = ctx.argv[1:], None
    while args:
        word = args.pop(0)
        if word in ("-t", "--table") and args:
            table = args.pop(0)
        elif word.startswith("--table="):
            table = word.split("=", 1)[1]
        else:
            ctx.error(f"iptables-save v1.8.9 (nf_tables): unknown argument `{word}' (the simulation reads -t only)")
            return 1
    ctx.write(ctx.stack.firewall().command(["save", *([table] if table else [])], ctx.world.clock.now))
    return 0
    yield
