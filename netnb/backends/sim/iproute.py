"""``ip`` and ``bridge`` for simulated nodes, printing what iproute2 6.1 prints for the forms labs use.

Covered: ``ip [-br] [-4] [-o] link|addr [show [dev] X]``, ``ip route [show [PREFIX] [dev X]]``, ``ip route
get``, ``ip neigh``, ``ip link add NAME type veth|bridge [peer name P]``, ``ip link set X up|down|master
B|nomaster|type bridge_slave OPTIONS``, ``ip link del``, ``ip addr add|del|flush``, ``ip route add|del`` (with
``nexthop`` paths), ``ip tuntap add``; ``bridge fdb show [br B]``, ``bridge [-d] link [show [dev X]]``, ``bridge
link set dev X OPTIONS`` (port options: hairpin, isolated, learning, flood on|off, cost, priority). Anything else says it is not
simulated. The formats were copied from iproute2's output on these machines and are checked against it by
the differential tests.

>>> flags_text(["BROADCAST", "UP"])
'<BROADCAST,UP>'
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from netnb.backends.sim import frames as fr
from netnb.backends.sim.shell import Ctx, Run, program
from netnb.backends.sim.world import Bridge, Device, Loopback, Stack, Tap, Veth, Vxlan, secondary
from netnb.errors import BackendError
from netnb.model.shaping import Tbf, parse_rate
from netnb.model.topology import PORT_DEFAULTS, PORT_RANGES

_MULTICAST_SELF = {  # what `bridge fdb show` lists as each device's own multicast addresses (IPv4 on, IPv6 off)
    "bridge": ["33:33:00:00:00:01", "01:00:5e:00:00:6a", "33:33:00:00:00:6a", "01:00:5e:00:00:01"],
    "other": ["33:33:00:00:00:01", "01:00:5e:00:00:01"],
}


def flags_text(flags: list[str]) -> str:
    return "<" + ",".join(flags) + ">"


def label(dev: Device) -> str:
    """``eth0@if7`` (peer elsewhere), ``v1@v2`` (peer here), ``br0``."""
    if isinstance(dev, Veth):  # (a peer in another namespace is always reported, whatever its index)
        peer = dev.peer
        return f"{dev.name}@{peer.name}" if peer.stack is dev.stack else f"{dev.name}@if{peer.index}"
    return dev.name


def local_label(dev: Device) -> str:
    """``bridge link`` names a veth's peer by looking its index up in this namespace (``A-eth0@sw``)."""
    if isinstance(dev, Veth) and dev.peer.index != dev.index:  # (the bridge dump omits a link equal to itself)
        here = next((d.name for d in dev.stack.devices.values() if d.index == dev.peer.index), None)
        return f"{dev.name}@{here or f'if{dev.peer.index}'}"
    return dev.name


def _qdisc(dev: Device) -> str:
    if not dev.admin_up:
        return "noop"
    if dev.shaper is not None:
        return "tbf"
    return "pfifo_fast" if isinstance(dev, Tap) else "noqueue"


def link_line(dev: Device, mode: bool) -> str:
    master = f"master {dev.master.name} " if dev.master is not None else ""
    return (f"{dev.index}: {label(dev)}: {flags_text(dev.flags())} mtu {dev.mtu} qdisc {_qdisc(dev)} {master}"
            f"state {dev.operstate()} {'mode DEFAULT ' if mode else ''}group default qlen 1000")


def ether_line(dev: Device) -> str:
    if isinstance(dev, Loopback):
        return "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00"
    tail = ""
    if isinstance(dev, Veth) and dev.peer.stack is not dev.stack:
        tail = f" link-netnsid {dev.stack.netnsid(dev.peer.stack)}"
    return f"    link/ether {fr.mac_text(dev.mac)} brd ff:ff:ff:ff:ff:ff{tail}"


def _timer(seconds: float) -> str:
    return f"{int(seconds):4d}.{int(seconds * 100) % 100:02d}"


def detail_lines(dev: Device) -> str:
    """What ``ip -d link`` adds to a device: its limits, its kind's own attributes, a port's bridge state."""
    tail = ("addrgenmode eui64 numtxqueues {q} numrxqueues {q} gso_max_size 65536 gso_max_segs 65535 "
            "tso_max_size {tso} tso_max_segs 65535 gro_max_size 65536 ")
    port = dev.master is not None
    promisc = 1 if port else 0
    if isinstance(dev, Loopback):
        limits, kind = "minmtu 0 maxmtu 0 ", ""
    else:
        limits = f"minmtu 68 maxmtu {65521 if isinstance(dev, Tap) else 65535} "
        kind = ""
    first = f"{ether_line(dev)} promiscuity {promisc}  allmulti {promisc} {limits}"
    q = 2 if isinstance(dev, Veth) else 1
    tso = 65536 if isinstance(dev, Tap) else 524280
    common = tail.format(q=q, tso=tso)
    if isinstance(dev, Loopback):
        return first + common
    if isinstance(dev, Bridge):
        mac = fr.mac_text(dev.mac)
        stp = dev.stp is not None
        kind = (f"    bridge forward_delay {200 if stp else 1500} hello_time 200 max_age 2000 ageing_time "
                f"{dev.ageing_cs} stp_state {1 if stp else 0} "
                f"priority 32768 vlan_filtering 0 bridge_id 8000.{mac} designated_root 8000.{mac} root_port 0 "
                "root_path_cost 0 topology_change 0 topology_change_detected 0 hello_timer    0.00 tcn_timer    0.00 "
                "topology_change_timer    0.00 gc_timer    0.00 group_fwd_mask 0 group_address 01:80:c2:00:00:00 "
                "mcast_snooping 1 no_linklocal_learn 0 mcast_vlan_snooping 0 mcast_router 1 mcast_query_use_ifaddr 0 "
                "mcast_querier 0 mcast_hash_elasticity 16 mcast_hash_max 4096 mcast_last_member_count 2 "
                "mcast_startup_query_count 2 mcast_last_member_interval 100 mcast_membership_interval 26000 "
                "mcast_querier_interval 25500 mcast_query_interval 12500 mcast_query_response_interval 1000 "
                "mcast_startup_query_interval 3124 mcast_stats_enabled 0 mcast_igmp_version 2 mcast_mld_version 1 "
                "nf_call_iptables 0 nf_call_ip6tables 0 nf_call_arptables 0 ")
    elif isinstance(dev, Veth):
        kind = "    veth "
    elif isinstance(dev, Tap):
        kind = "    tun type tap pi off vnet_hdr off persist on "
    elif isinstance(dev, Vxlan):
        kind = f"    vxlan id {dev.vni} local {dev.local} srcport 0 0 dstport {dev.port} nolearning ttl auto ageing 300 "
    if port:
        assert dev.master is not None
        br = dev.master
        number = br.ports.index(dev) + 1
        mac = fr.mac_text(br.mac)
        state = br.port_state(dev)
        f = br.port_flags(dev)
        port_id = (f.priority << 10) | number
        kind += ("\n    bridge_slave state " + state + f" priority {f.priority} cost {f.cost} hairpin {_onoff(f.hairpin)} "
                 f"guard off root_block off fastleave off learning {_onoff(f.learning)} flood {_onoff(f.flood)} "
                 f"port_id 0x{port_id:04x} port_no 0x{number:x} "
                 f"designated_port {port_id} designated_cost 0 designated_bridge 8000.{mac} "
                 f"designated_root 8000.{mac} hold_timer    0.00 message_age_timer    0.00 forward_delay_timer "
                 f"{_timer(0)} topology_change_ack 0 config_pending 0 proxy_arp off proxy_arp_wifi off mcast_router 1 "
                 "mcast_fast_leave off mcast_flood on bcast_flood on mcast_to_unicast off neigh_suppress off "
                 f"group_fwd_mask 0 group_fwd_mask_str 0x0 vlan_tunnel off isolated {_onoff(f.isolated)} locked off ")
    return first + "\n" + kind + common


def _scope(dev: Device, a: Any) -> str:
    """``scope host``/``scope global``, and ``secondary`` for a second address in one subnet."""
    return ("host" if a.ip.is_loopback else "global") + (" secondary" if secondary(dev, a) else "")


def addr_lines(dev: Device) -> list[str]:
    out = []
    for a in dev.addresses:
        out.append(f"    inet {a} scope {_scope(dev, a)} {dev.name}")
        out.append("       valid_lft forever preferred_lft forever")
    return out


def route_line(stack: Stack, r) -> str:  # type: ignore[no-untyped-def]
    """One route as ``ip route`` prints it; a multipath route's paths on lines of their own."""
    dest = "default" if r.dest.prefixlen == 0 else (str(r.dest.network_address) if r.dest.prefixlen == 32
                                                     else str(r.dest))
    parts = [dest]
    if r.via is not None:
        parts += ["via", str(r.via)]
    if not r.hops:
        parts += ["dev", r.dev.name]
    if r.proto not in ("boot",):
        parts += ["proto", r.proto]
    if r.scope != "global":
        parts += ["scope", r.scope]
    if r.src is not None:
        parts += ["src", str(r.src)]
    if not r.hops and not r.dev.carrier():
        parts.append("linkdown")
    return " ".join(parts) + " " + "".join(
        "\n\tnexthop " + (f"via {h.via} " if h.via else "") + f"dev {h.dev.name} weight {h.weight} "
        + "".join(f + " " for f in h.flags()) for h in r.hops)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def link_json(dev: Device, addresses: bool, brief: bool = False, only4: bool = False) -> dict[str, Any]:
    """One device as ``ip -j link`` / ``ip -j addr`` print it (iproute2's key order)."""
    out: dict[str, Any] = {}
    peer_here = isinstance(dev, Veth) and dev.peer.stack is dev.stack
    elsewhere = isinstance(dev, Veth) and not peer_here
    if not brief:
        out["ifindex"] = dev.index
    if peer_here:
        out["link"] = dev.peer.name  # type: ignore[attr-defined]
    elif elsewhere:
        out["link_index"] = dev.peer.index  # type: ignore[attr-defined]
    out["ifname"] = dev.name
    infos = [{"family": "inet", "local": str(a.ip), "prefixlen": a.network.prefixlen,
              "scope": "host" if a.ip.is_loopback else "global", **({"secondary": True} if secondary(dev, a) else {}),
              "label": dev.name, "valid_life_time": 4294967295, "preferred_life_time": 4294967295}
             for a in dev.addresses]
    if brief:
        out["operstate"] = dev.operstate()
        if addresses:
            out["addr_info"] = [{"local": i["local"], "prefixlen": i["prefixlen"]} for i in infos]
        else:
            out["address"] = fr.mac_text(dev.mac)
            out["flags"] = dev.flags()
        return out
    out["flags"] = dev.flags()
    out["mtu"] = dev.mtu
    out["qdisc"] = _qdisc(dev)
    if dev.master is not None:
        out["master"] = dev.master.name
    out["operstate"] = dev.operstate()
    if not addresses:
        out["linkmode"] = "DEFAULT"
    out["group"] = "default"
    out["txqlen"] = 1000
    if not only4:
        out["link_type"] = "loopback" if isinstance(dev, Loopback) else "ether"
        out["address"] = fr.mac_text(dev.mac)
        out["broadcast"] = "00:00:00:00:00:00" if isinstance(dev, Loopback) else "ff:ff:ff:ff:ff:ff"
    if elsewhere:
        out["link_netnsid"] = dev.stack.netnsid(dev.peer.stack)  # type: ignore[attr-defined]
    if addresses:
        out["addr_info"] = infos
    return out


def route_json(r: Any) -> dict[str, Any]:
    """One route as ``ip -j route`` prints it."""
    out: dict[str, Any] = {"dst": "default" if r.dest.prefixlen == 0 else (
        str(r.dest.network_address) if r.dest.prefixlen == 32 else str(r.dest))}
    if r.via is not None:
        out["gateway"] = str(r.via)
    if not r.hops:
        out["dev"] = r.dev.name
    if r.proto != "boot":
        out["protocol"] = r.proto
    if r.scope != "global":
        out["scope"] = r.scope
    if r.src is not None:
        out["prefsrc"] = str(r.src)
    out["flags"] = [] if r.hops or r.dev.carrier() else ["linkdown"]
    if r.hops:
        out["nexthops"] = [{**({"gateway": str(h.via)} if h.via else {}), "dev": h.dev.name, "weight": h.weight,
                            "flags": h.flags()} for h in r.hops]
    return out


class _Usage(Exception):
    pass


def _devices(stack: Stack, args: list[str]) -> list[Device]:
    name = None
    while args:
        a = args.pop(0)
        if a in ("show", "list", "ls", "lst", "sh"):
            continue
        if a == "dev" and args:
            name = args.pop(0)
        elif a in ("up",):
            continue
        else:
            name = a
    devs = sorted(stack.devices.values(), key=lambda d: d.index)
    if name is not None:
        if name not in stack.devices:
            raise _Usage(f'Device "{name}" does not exist.')
        devs = [stack.devices[name]]
    return devs


@program("ip")
def ip_command(ctx: Ctx) -> Run:
    args = ctx.argv[1:]
    opts = set()
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt in ("-br", "-brief"):
            opts.add("br")
        elif opt == "-4":
            opts.add("4")
        elif opt in ("-o", "-oneline"):
            opts.add("o")
        elif opt in ("-d", "-details"):
            opts.add("d")
        elif opt in ("-j", "-json"):
            opts.add("j")
        elif opt in ("-n", "-netns"):
            ctx.error(f"ip: option {opt} is not simulated (it needs a real kernel)")
            return 1
        else:
            ctx.error(f'Option "{opt}" is unknown, try "ip -help".')
            return 255
    if not args:
        ctx.error("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }")
        return 255
    obj, rest = args[0], args[1:]
    try:
        if "link".startswith(obj) and obj:
            return _link(ctx, rest, opts)
        if obj in ("addr", "address", "a", "ad", "add", "addres"):
            return _addr(ctx, rest, opts)
        if obj in ("route", "r", "ro", "rou", "rout"):
            return _route(ctx, rest, opts)
        if obj in ("neigh", "neighbour", "neighbor", "n", "ne", "nei"):
            return _neigh(ctx, rest, opts)
        if obj == "tuntap":
            return _tuntap(ctx, rest)
    except _Usage as exc:
        ctx.error(str(exc))
        return 1
    except BackendError as exc:
        text = str(exc)
        ctx.error(text[text.find("(") + 1:-1] if "(" in text and text.endswith(")") else text)
        return 2
    ctx.error(f'Object "{obj}" is unknown, try "ip help".')
    return 1
    yield


def _link(ctx: Ctx, args: list[str], opts: set[str]) -> int:
    stack = ctx.stack
    verb = args[0] if args else "show"
    if verb in ("show", "list", "ls", "sh", "lst") or verb not in ("add", "set", "del", "delete"):
        devs = _devices(stack, list(args))
        if "j" in opts:
            ctx.print(_json([link_json(d, addresses=False, brief="br" in opts) for d in devs]))
            return 0
        for dev in devs:
            if "br" in opts:
                ctx.print(f"{label(dev):<16} {dev.operstate():<14} {fr.mac_text(dev.mac)} {flags_text(dev.flags())} ")
            elif "o" in opts:
                ctx.print(link_line(dev, True) + "\\" + ether_line(dev))
            elif "d" in opts:
                ctx.print(link_line(dev, True))
                ctx.print(detail_lines(dev))
            else:
                ctx.print(link_line(dev, True))
                ctx.print(ether_line(dev))
        return 0
    rest = args[1:]
    if verb == "add":
        return _link_add(ctx, rest)
    if verb in ("del", "delete"):
        name = rest[1] if rest[:1] == ["dev"] and len(rest) > 1 else (rest[0] if rest else "")
        stack.remove_device(stack.device(name))
        return 0
    # set
    if rest[:1] == ["dev"]:
        rest = rest[1:]
    if not rest:
        raise _Usage('Not enough of information: "dev" argument is required.')
    dev = stack.device(rest[0])
    words = rest[1:]
    while words:
        w = words.pop(0)
        if w in ("up", "down"):
            stack.set_up(dev.name, w == "up")
        elif w == "master" and words:
            bridge = stack.device(words.pop(0))
            if not isinstance(bridge, Bridge):
                raise _Usage("Error: Device does not allow enslaving to a master.")
            bridge.add_port(dev)
        elif w == "nomaster":
            if dev.master is not None:
                dev.master.del_port(dev)
        elif w == "address" and words:
            dev.mac, dev.mac_set = fr.mac_bytes(words.pop(0)), True
            if dev.master is not None:
                dev.master.pick_mac()
        elif w == "mtu" and words:
            dev.mtu = int(words.pop(0))
        elif w == "name" and words:
            new = words.pop(0)
            stack.rename(dev, new)
        elif w == "type" and words[:1] == ["bridge_slave"]:
            words.pop(0)
            _set_port(dev, words)
            words = []
        else:
            raise _Usage(f'Error: either "dev" is duplicate, or "{w}" is a garbage.')
    return 0


def _set_port(dev: Device, words: list[str]) -> None:
    """``ip link set dev X type bridge_slave`` / ``bridge link set dev X`` options: hairpin, isolated,
    learning, flood (on|off), cost, priority."""
    options: dict[str, bool | int] = {}
    words = list(words)
    while words:
        w = words.pop(0)
        if w not in PORT_DEFAULTS or not words:
            raise _Usage(f'Error: bridge port option "{w}" is not simulated ({", ".join(PORT_DEFAULTS)} are)')
        value = words.pop(0)
        if w in PORT_RANGES:
            low, high = PORT_RANGES[w]
            if not value.isdigit() or not low <= int(value) <= high:
                raise _Usage(f'Error: argument "{value}" is wrong: Invalid "{w}" value')
            options[w] = int(value)
        elif value in ("on", "off"):
            options[w] = value == "on"
        else:
            raise _Usage(f'Error: argument "{value}" is wrong: "{w}" must be "on" or "off"')
    if dev.master is None:
        raise _Usage(f"Error: {dev.name} is no bridge port (Operation not supported)")
    dev.master.set_port(dev, **options)


def _onoff(flag: bool) -> str:
    return "on" if flag else "off"


def _link_add(ctx: Ctx, args: list[str]) -> int:
    stack = ctx.stack
    words = list(args)
    name = None
    kind = None
    peer = None
    netns = None
    while words:
        w = words.pop(0)
        if w in ("name", "dev") and words:
            name = words.pop(0)
        elif w == "type" and words:
            kind = words.pop(0)
        elif w == "peer":
            if words[:1] == ["name"]:
                words.pop(0)
            peer = words.pop(0) if words else None
        elif w == "netns" and words:
            netns = words.pop(0)
        elif w == "link" and words:
            words.pop(0)
        elif w in ("id",) and words:
            words.pop(0)
        elif name is None:
            name = w
    if name is None or kind is None:
        raise _Usage('Not enough information: "type" argument is required')
    if kind == "bridge":
        stack.add_bridge(name)
    elif kind == "veth":
        other: Stack | None = stack
        if netns is not None:
            other = ctx.world.stack_by_pid(netns)
        if other is None:
            raise _Usage(f'Error: Peer netns reference is invalid. ("{netns}" is no namespace of this lab)')
        stack.add_veth(name, other, peer or f"veth{stack.new_index()}")
    elif kind in ("vlan", "macvlan", "dummy", "gre", "vrf", "wireguard", "geneve", "ipvlan"):
        # As this machine's kernel: these device types are absent.
        ctx.error("Error: Unknown device type.")
        return 2
    else:
        ctx.error(f"Error: device type {kind!r} is not simulated (it needs a real kernel).")
        return 2
    return 0


def _addr(ctx: Ctx, args: list[str], opts: set[str]) -> int:
    stack = ctx.stack
    verb = args[0] if args else "show"
    if verb in ("add", "del", "delete"):
        words = args[1:]
        cidr = words[0] if words else ""
        ifname = words[words.index("dev") + 1] if "dev" in words and words.index("dev") + 1 < len(words) else None
        if ifname is None:
            raise _Usage('Not enough information: "dev" argument is required.')
        if "/" not in cidr:
            cidr += "/32"
        if verb == "add":
            stack.add_address(ifname, cidr)
        else:
            stack.del_address(ifname, cidr)
        return 0
    if verb == "flush":
        words = args[1:]
        name = words[words.index("dev") + 1] if "dev" in words else (words[0] if words else "")
        stack.device(name).addresses.clear()
        stack.changed()
        stack.routes = [r for r in stack.routes if all(
            h.via is None or stack.lookup(h.via, connected_only=True) for h in (r.hops or (r,)))]
        return 0
    devs = _devices(stack, list(args))
    if "j" in opts:
        ctx.print(_json([link_json(d, addresses=True, brief="br" in opts, only4="4" in opts) for d in devs
                         if not ("4" in opts and not d.addresses)]))
        return 0
    for dev in devs:
        if "4" in opts and not dev.addresses:
            continue
        if "br" in opts:
            ctx.print(f"{label(dev):<16} {dev.operstate():<14} " + "".join(f"{a} " for a in dev.addresses))
        elif "o" in opts:
            for a in dev.addresses:
                ctx.print(f"{dev.index}: {dev.name}    inet {a} scope {_scope(dev, a)} {dev.name}\\"
                          "       valid_lft forever preferred_lft forever")
        else:
            ctx.print(link_line(dev, False))
            if "4" not in opts:
                ctx.print(ether_line(dev))
            for line in addr_lines(dev):
                ctx.print(line)
    return 0


def _route(ctx: Ctx, args: list[str], opts: set[str]) -> int:
    stack = ctx.stack
    verb = args[0] if args else "show"
    if verb in ("show", "list", "ls"):
        if args[1:3] in (["table", "local"], ["table", "255"]) and "j" not in opts:
            for line in stack.local_table():
                ctx.print(line)
            return 0
        shown = _route_selection(stack, args[1:])
        if "j" in opts:
            ctx.print(_json([route_json(r) for r in shown]))
            return 0
        for r in shown:
            ctx.print(route_line(stack, r))
        return 0
    if verb == "get":
        dest = args[1] if len(args) > 1 else ""
        try:
            target = ipaddress.IPv4Address(dest)
        except ValueError:
            raise _Usage(f'Error: inet prefix is expected rather than "{dest}".') from None
        if stack.local_address(target) is not None:
            ctx.print(f"local {target} dev lo src {target} uid 0 ")
            ctx.print("    cache <local> ")
            return 0
        route = stack.lookup(target)
        if route is None:
            ctx.error("RTNETLINK answers: Network is unreachable")
            return 2
        gateway = f"via {route.via} " if route.via else ""
        ctx.print(f"{target} {gateway}dev {route.dev.name} src {stack.source_for(route, target)} uid 0 ")
        ctx.print("    cache ")
        return 0
    if verb in ("add", "del", "delete", "replace"):
        words = args[1:]
        dest = words.pop(0) if words else ""
        via: str | None = None
        dev: str | None = None
        hops: list[list[Any]] = []  # (gateway, device, weight) of each `nexthop`
        while words:
            w = words.pop(0)
            if w == "nexthop":
                hops.append([None, None, 1])
            elif w == "via" and words:
                if hops:
                    hops[-1][0] = words.pop(0)
                else:
                    via = words.pop(0)
            elif w == "dev" and words:
                if hops:
                    hops[-1][1] = words.pop(0)
                else:
                    dev = words.pop(0)
            elif w == "weight" and words and hops:
                weight = words.pop(0)
                if not weight.isdigit() or not 1 <= int(weight) <= 256:
                    raise _Usage(f'Error: "{weight}" is not a valid weight (1 to 256).')
                hops[-1][2] = int(weight)
            elif w in ("proto", "metric", "scope", "src", "table") and words:
                words.pop(0)
        try:
            ipaddress.IPv4Network("0.0.0.0/0" if dest == "default" else dest)
        except ValueError:
            raise _Usage("Error: Invalid prefix for given prefix length.") from None
        nexthops = tuple((h[0], h[1], h[2]) for h in hops)
        if verb == "add":
            stack.add_route(dest, via, dev, proto="boot", nexthops=nexthops)
        elif verb == "replace":
            try:
                stack.del_route(dest, None, None)
            except BackendError:
                pass
            stack.add_route(dest, via, dev, proto="boot", nexthops=nexthops)
        else:
            stack.del_route(dest, via, dev)
        return 0
    raise _Usage(f'Command "{verb}" is unknown, try "ip route help".')


def _route_selection(stack: Stack, words: list[str]) -> list[Any]:
    """The main table's routes ``ip route show [to] [root|match|exact] PREFIX [dev DEV] [proto P]`` selects
    (a bare prefix is an exact one, as in iproute2)."""
    routes = stack.table()
    words = list(words)
    while words:
        w = words.pop(0)
        if w in ("dev", "oif") and words:
            name = words.pop(0)
            stack.device(name)  # (Cannot find device)
            routes = [r for r in routes if any(h.dev.name == name for h in (r.hops or (r,)))]
        elif w in ("proto", "protocol") and words:
            proto = words.pop(0)
            routes = [r for r in routes if r.proto == proto]
        elif w in ("scope", "table", "type") and words:
            words.pop(0)  # (the main table, unicast routes: what the simulation has)
        else:
            how = "exact"
            if w == "to" and words:
                w = words.pop(0)
            if w in ("root", "match", "exact") and words:
                how, w = w, words.pop(0)
            try:
                net = ipaddress.IPv4Network("0.0.0.0/0" if w in ("default", "all") else w, strict=False)
            except ValueError:
                raise _Usage(f'Error: an inet prefix is expected rather than "{w}".') from None
            if w == "all":
                continue
            if how == "exact":
                routes = [r for r in routes if r.dest == net]
            elif how == "root":
                routes = [r for r in routes if r.dest.subnet_of(net)]
            else:
                routes = [r for r in routes if net.subnet_of(r.dest)]
    return routes


def _neigh(ctx: Ctx, args: list[str], opts: set[str]) -> int:
    stack = ctx.stack
    verb = args[0] if args else "show"
    if verb == "flush":
        stack.neigh_flush()
        return 0
    now = ctx.world.clock.now
    if "j" in opts:
        rows = []
        for n in list(stack.neigh.values()):
            state = n.shown_state(now)
            if state == "NOARP":
                continue
            row: dict[str, Any] = {"dst": str(n.ip), "dev": n.dev.name}
            if n.mac is not None and state not in ("INCOMPLETE", "FAILED"):
                row["lladdr"] = fr.mac_text(n.mac)
            row["state"] = [state]
            rows.append(row)
        ctx.print(_json(rows))
        return 0
    for n in list(stack.neigh.values()):
        state = n.shown_state(now)
        if state == "NOARP":
            continue  # (`ip neigh` leaves NOARP entries out unless asked for `nud all`)
        mac = f"lladdr {fr.mac_text(n.mac)} " if n.mac is not None and state not in ("INCOMPLETE", "FAILED") else ""
        ctx.print(f"{n.ip} dev {n.dev.name} {mac}{state} ")
    return 0


def _tuntap(ctx: Ctx, args: list[str]) -> int:
    if args[:1] != ["add"]:
        raise _Usage('Usage: ip tuntap add dev NAME mode tap (only that is simulated)')
    words = args[1:]
    name = words[words.index("dev") + 1] if "dev" in words else None
    if name is None or "tap" not in words:
        raise _Usage("ip tuntap: only `ip tuntap add dev NAME mode tap` is simulated")
    ctx.stack.add_tap(name)
    return 0


# -- tc ---------------------------------------------------------------------------------------------------
_PRIOMAP = [1, 2, 2, 2, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]
#: Qdiscs this machine's kernel lacks (tc says so); others than tbf are real but not simulated.
_ABSENT_QDISCS = {"netem", "prio", "fq_codel"}


@program("tc")
def tc_command(ctx: Ctx) -> Run:
    """``tc [-s] [-j] qdisc [show [dev X]]``, ``tc qdisc add|replace|change dev X root tbf rate R burst B
    latency T|limit N``, ``tc qdisc del dev X root``: the token bucket filter is the qdisc simulated."""
    args = ctx.argv[1:]
    stats = as_json = False
    while args and args[0].startswith("-"):
        option = args.pop(0).lstrip("-")
        stats |= option in ("s", "stats", "statistics")
        as_json |= option in ("j", "json")
    if not args or not "qdisc".startswith(args[0]):
        ctx.error(f"tc: {' '.join(args) or 'that'} is not simulated (it needs a real kernel): only qdiscs are")
        return 2
    rest = args[1:]
    verb = rest.pop(0) if rest else "show"
    try:
        if verb in ("show", "list", "ls"):
            return _tc_show(ctx, rest, stats, as_json)
        if verb in ("add", "replace", "change", "del", "delete"):
            return _tc_change(ctx, verb, rest)
    except _Usage as exc:
        ctx.error(str(exc))
        return 1
    except BackendError as exc:
        ctx.error(str(exc))
        return 2
    ctx.error(f'Command "{verb}" is unknown, try "tc qdisc help".')
    return 1
    yield


def _tc_device(stack: Stack, words: list[str]) -> Device | None:
    if "dev" not in words:
        return None
    at = words.index("dev")
    if at + 1 >= len(words):
        raise _Usage('Device name is missing after "dev"')
    name = words[at + 1]
    dev = stack.devices.get(name)
    if dev is None:
        raise _Usage(f'Cannot find device "{name}"')
    return dev


def _tc_show(ctx: Ctx, words: list[str], stats: bool, as_json: bool) -> int:
    only = _tc_device(ctx.stack, words)
    devs = [only] if only is not None else sorted(ctx.stack.devices.values(), key=lambda d: d.index)
    rows = []
    for dev in devs:
        if not dev.admin_up:
            continue  # (a device that is down has the noop qdisc, which tc leaves out)
        shaper = dev.shaper
        if shaper is not None:
            kind, handle, refcnt = "tbf", f"{shaper.handle:x}:", 1 + (2 if isinstance(dev, Veth) else 1)
            text = shaper.tbf.shown() + " "
            options: dict[str, Any] = {"rate": shaper.tbf.bytes_per_s, "burst": shaper.tbf.shown_burst(),
                                       "lat": shaper.tbf.latency_us()}
            counts = (shaper.sent_bytes, shaper.sent_packets, shaper.drops, shaper.overlimits, shaper.backlog,
                      len(shaper.queue))
        elif isinstance(dev, Tap):
            kind, handle, refcnt = "pfifo_fast", "0:", 2
            text = "bands 3 priomap " + " ".join(map(str, _PRIOMAP))
            options = {"bands": 3, "priomap": _PRIOMAP, "multiqueue": False}
            counts = (dev.qdisc_bytes, dev.qdisc_packets, 0, 0, 0, 0)
        else:
            kind, handle, refcnt, text, options, counts = "noqueue", "0:", 2, "", {}, (0, 0, 0, 0, 0, 0)
        if as_json:
            row: dict[str, Any] = {"kind": kind, "handle": handle, **({"dev": dev.name} if only is None else {}),
                                   "root": True, "refcnt": refcnt, "options": options}
            if stats:
                row.update(zip(("bytes", "packets", "drops", "overlimits"), counts[:4]))
                row.update({"requeues": 0, "backlog": counts[4], "qlen": counts[5]})
            rows.append(row)
            continue
        where = f"dev {dev.name} " if only is None else ""
        ctx.print(f"qdisc {kind} {handle} {where}root refcnt {refcnt} {text}")
        if stats:
            ctx.print(f" Sent {counts[0]} bytes {counts[1]} pkt (dropped {counts[2]}, overlimits {counts[3]} "
                      f"requeues 0) ")
            ctx.print(f" backlog {counts[4]}b {counts[5]}p requeues 0")
    if as_json:
        ctx.print(_json(rows))
    return 0


_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3,
               "kbit": 1024 // 8, "mbit": 1024**2 // 8, "gbit": 1024**3 // 8}
_TIME_UNITS = {"": 1, "us": 1, "usec": 1, "usecs": 1, "ms": 1000, "msec": 1000, "msecs": 1000,
               "s": 1_000_000, "sec": 1_000_000, "secs": 1_000_000}


def _amount(text: str, units: dict[str, int]) -> int | None:
    """A size or time as tc reads one (a number and a unit)."""
    digits = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    try:
        value = float(digits)
    except ValueError:
        return None
    unit = units.get(text[len(digits):].lower())
    return None if unit is None or value < 0 else int(value * unit)


def _tc_change(ctx: Ctx, verb: str, words: list[str]) -> int:
    dev = _tc_device(ctx.stack, words)
    if dev is None:
        raise _Usage('Error: "dev" is required (tc qdisc ... dev NAME root ...)')
    at = words.index("dev")
    words = words[:at] + words[at + 2:]
    if "root" not in words:
        ctx.error("tc: only root qdiscs are simulated (parent/handle trees need a real kernel)")
        return 2
    words.remove("root")
    if "handle" in words:  # (a handle of one's choosing: the qdisc is the same)
        at = words.index("handle")
        del words[at:at + 2]
    if verb in ("del", "delete"):
        if dev.shaper is None:
            ctx.error("Error: Cannot delete qdisc with handle of zero.")
            return 2
        ctx.world.shape(dev, None)
        return 0
    kind = words.pop(0) if words else ""
    if kind in _ABSENT_QDISCS:
        ctx.error("Error: Specified qdisc kind is unknown.")
        return 2
    if kind != "tbf":
        ctx.error(f"tc: qdisc {kind or '(none)'} is not simulated (it needs a real kernel): tbf is")
        return 2
    given = dict(zip(words[::2], words[1::2]))
    rate = parse_rate(given.get("rate", ""))
    burst = _amount(given.get("burst", given.get("buffer", given.get("maxburst", ""))), _SIZE_UNITS)
    latency = _amount(given["latency"], _TIME_UNITS) if "latency" in given else None
    limit = _amount(given["limit"], _SIZE_UNITS) if "limit" in given else None
    if len(words) % 2 or set(given) - {"rate", "burst", "buffer", "maxburst", "latency", "limit"}:
        raise _Usage("Usage: ... tbf limit BYTES burst BYTES[/BYTES] rate KBPS [ latency TIME ] (what is simulated)")
    if not burst or rate is None or (latency is None and limit is None):
        problems = ([] if burst else ['tbf: the "burst" parameter is mandatory.']) + \
            ([] if rate is not None else ['tbf: the "rate" parameter is mandatory.']) + \
            ([] if latency is not None or limit is not None else ['tbf: either "limit" or "latency" is required.'])
        raise _Usage("\n".join(problems))
    tbf = Tbf(rate, burst, limit) if limit is not None else Tbf.with_latency(rate, burst, latency or 0)
    if dev.shaper is not None and verb == "add":
        ctx.error("Error: Exclusivity flag on, cannot modify.")
        return 2
    if dev.shaper is None and verb == "change":
        ctx.error("Error: Specified qdisc not found.")
        return 2
    if dev.shaper is not None:  # replace, change: the same qdisc (its handle, its counters) with new numbers
        dev.shaper.retune(tbf)
    else:
        ctx.world.shape(dev, tbf)
    return 0


@program("bridge")
def bridge_command(ctx: Ctx) -> Run:
    args = ctx.argv[1:]
    details = as_json = False
    while args and args[0].startswith("-"):
        option = args.pop(0)
        details |= option in ("-d", "-details")
        as_json |= option in ("-j", "-json")
    stack = ctx.stack
    try:
        if args[:1] == ["fdb"]:
            br = args[args.index("br") + 1] if "br" in args else None
            if br is not None and not isinstance(stack.devices.get(br), Bridge):
                ctx.error(f'Cannot find bridge device "{br}"')
                return 1
            for line in fdb_lines(stack, br):
                ctx.print(line)
            return 0
        if args[:1] == ["link"]:
            rest = args[1:]
            if rest[:1] == ["set"]:
                at = rest.index("dev")
                dev = stack.device(rest[at + 1])
                try:
                    _set_port(dev, rest[1:at] + rest[at + 2:])
                except _Usage as exc:
                    ctx.error(str(exc))
                    return 1
                return 0
            only = rest[rest.index("dev") + 1] if "dev" in rest else None
            ports = [d for d in sorted(stack.devices.values(), key=lambda d: d.index)
                     if d.master is not None and (only is None or d.name == only)]
            if as_json:
                ctx.print(_json([{"ifindex": d.index, **({"link": local_label(d).split("@", 1)[1]}
                                                           if "@" in local_label(d) else {}),
                                  "ifname": d.name, "flags": d.flags(), "mtu": d.mtu,
                                  "master": d.master.name, "state": d.master.port_state(d),
                                  "priority": d.master.port_flags(d).priority, "cost": d.master.port_flags(d).cost}
                                 for d in ports if d.master is not None]))
                return 0
            for dev in ports:
                if dev.master is None:
                    continue
                f = dev.master.port_flags(dev)
                ctx.print(f"{dev.index}: {local_label(dev)}: {flags_text(dev.flags())} mtu {dev.mtu} master "
                          f"{dev.master.name} state {dev.master.port_state(dev)} priority {f.priority} cost {f.cost} ")
                if details:
                    ctx.print(f"    hairpin {_onoff(f.hairpin)} guard off root_block off fastleave off learning "
                              f"{_onoff(f.learning)} flood {_onoff(f.flood)} mcast_flood on bcast_flood on mcast_router 1 "
                              f"mcast_to_unicast off neigh_suppress off vlan_tunnel off isolated {_onoff(f.isolated)} "
                              "locked off ")
            return 0
    except (BackendError, ValueError, IndexError) as exc:
        ctx.error(f"bridge: {exc}")
        return 1
    ctx.error(f"bridge: {' '.join(args)!r} is not simulated (it needs a real kernel)")
    return 1
    yield


def fdb_lines(stack: Stack, only: str | None) -> list[str]:
    """``bridge fdb show [br B]``: each device by index, its bridge entries then its own multicast ones."""
    out = []
    for dev in sorted(stack.devices.values(), key=lambda d: d.index):
        if isinstance(dev, Loopback):
            continue
        if only is not None and dev.name != only and (dev.master is None or dev.master.name != only):
            continue
        if isinstance(dev, Bridge):
            out += [f"{m} dev {dev.name} self permanent" for m in _MULTICAST_SELF["bridge"]]
            if all(p.mac != dev.mac for p in dev.ports):
                out.append(f"{fr.mac_text(dev.mac)} dev {dev.name} master {dev.name} permanent")
            continue
        if dev.master is not None:
            br = dev.master
            for mac, port, _age, local in br.fdb():
                if port is dev and not local:
                    out.append(f"{fr.mac_text(mac)} dev {dev.name} master {br.name} ")
            out.append(f"{fr.mac_text(dev.mac)} dev {dev.name} master {br.name} permanent")
        if isinstance(dev, Vxlan):
            out += [f"{fr.mac_text(m)} dev {dev.name} dst {ip} self permanent" for m, ip in dev.remotes.items()]
        out += [f"{m} dev {dev.name} self permanent" for m in _MULTICAST_SELF["other"]]
    return out
