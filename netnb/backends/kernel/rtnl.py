"""The few rtnetlink requests a lab build sends thousands of times, encoded by hand.

Why by hand: pyroute2 spends about 1 ms of Python per request on building and parsing messages
(measured with pyroute2 0.9.7 on these 2-core machines: a veth pair 2.7 ms, an address 1.1 ms), which
made a 100-host build slower than a shell script of ``ip`` commands. Each request here is one
``struct.pack`` and one ``sendmsg``/``recv`` (30-100 us). Only creating things is done here: links
(veth, bridge), link state and master, addresses and routes. Everything that reads the kernel back,
and every rarer device (TAP, VXLAN) or table (FDB), stays with pyroute2.

A socket belongs to the network namespace it was created in; :class:`Rtnl` is created by the agent's
netlink thread while it stands inside the node's namespace.

>>> len(attr(IFLA_IFNAME, b"eth0\\0"))
12
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct

NETLINK_ROUTE = 0
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR = 20, 21
RTM_NEWROUTE, RTM_DELROUTE = 24, 25

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 4, 10, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFLA_BR_FORWARD_DELAY, IFLA_BR_AGEING_TIME, IFLA_BR_STP_STATE, IFLA_BR_PRIORITY = 1, 4, 5, 6
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_MULTIPATH = 1, 4, 5, 9
IFF_UP = 0x1
RT_TABLE_MAIN, RTPROT_STATIC, RTN_UNICAST = 254, 4, 1
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK = 0, 253

_NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
_IFINFOMSG = struct.Struct("=BxHiII")  # family, device type, index, flags, change mask
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefix length, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst len, src len, tos, table, protocol, scope, type, flags
_ATTR = struct.Struct("=HH")  # length, type
_RTNEXTHOP = struct.Struct("=HBBi")  # length, flags, hops (weight - 1), interface index


def attr(kind: int, payload: bytes) -> bytes:
    """One netlink attribute, padded to 4 bytes."""
    size = _ATTR.size + len(payload)
    return _ATTR.pack(size, kind) + payload + b"\0" * (-size % 4)


def _name(ifname: str) -> bytes:
    return attr(IFLA_IFNAME, ifname.encode() + b"\0")


def _u32(kind: int, value: int) -> bytes:
    return attr(kind, struct.pack("=I", value))


def _ifinfo(index: int = 0, up: bool | None = None) -> bytes:
    """An ifinfomsg that changes only IFF_UP (when ``up`` is given)."""
    return _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP if up is not None else 0)


class Rtnl:
    """A raw rtnetlink socket in the namespace of the thread that creates it; one request at a time.

    Errors come back as :class:`OSError` with the kernel's errno, as pyroute2's do.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self.sock.close()

    def request(self, kind: int, flags: int, body: bytes) -> bytes:
        """Send one request and wait for its acknowledgement; returns a reply's payload, if any."""
        self._seq += 1
        seq = self._seq
        header = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), kind, flags | NLM_F_REQUEST | NLM_F_ACK, seq, 0)
        self.sock.sendto(header + body, (0, 0))
        reply = b""
        while True:
            data = self.sock.recv(65536)
            offset = 0
            while offset + _NLMSGHDR.size <= len(data):
                length, mtype, _, mseq, _ = _NLMSGHDR.unpack_from(data, offset)
                if length < _NLMSGHDR.size:
                    raise OSError(0, "malformed netlink reply")
                payload = data[offset + _NLMSGHDR.size:offset + length]
                offset += (length + 3) & ~3
                if mseq != seq:
                    continue  # an answer to an earlier request that gave up waiting
                if mtype == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", payload)[0]
                    if code:
                        raise OSError(code, os.strerror(code))
                    return reply
                reply = payload

    # -- links ------------------------------------------------------------------------------
    def link_index(self, ifname: str) -> int:
        """The ifindex of ``ifname`` (OSError ENODEV if there is none)."""
        reply = self.request(RTM_GETLINK, 0, _ifinfo() + _name(ifname))
        return int(_IFINFOMSG.unpack_from(reply)[2])

    def link_set(self, ifname: str, *, up: bool | None = None, master: int | None = None) -> None:
        """``ip link set IFNAME [up|down] [master INDEX]``."""
        attrs = _name(ifname) + (_u32(IFLA_MASTER, master) if master is not None else b"")
        self.request(RTM_NEWLINK, 0, _ifinfo(up=up) + attrs)

    def link_del(self, index: int) -> None:
        self.request(RTM_DELLINK, 0, _ifinfo(index))

    def add_bridge(self, ifname: str, *, ageing_cs: int, stp: bool, forward_delay_cs: int | None = None,
                   priority: int = 32768) -> None:
        """A bridge, up at once: ``ip link add NAME up type bridge ageing_time A stp_state S priority P``."""
        data = _u32(IFLA_BR_AGEING_TIME, ageing_cs) + _u32(IFLA_BR_STP_STATE, 1 if stp else 0)
        if priority != 32768:
            data += attr(IFLA_BR_PRIORITY, struct.pack("=H", priority))
        if forward_delay_cs is not None:
            data += _u32(IFLA_BR_FORWARD_DELAY, forward_delay_cs)
        info = attr(IFLA_INFO_KIND, b"bridge\0") + attr(IFLA_INFO_DATA, data)
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, _ifinfo(up=True) + _name(ifname) + attr(IFLA_LINKINFO, info))

    def add_veth(self, ifname: str, peer_ifname: str, *, peer_netns_fd: int | None = None, mtu: int | None = None,
                 peer_mac: str | None = None, master: int | None = None, mac: str | None = None) -> None:
        """A veth pair, this end up, the peer (still down) moved to ``peer_netns_fd``:
        ``ip link add NAME [mtu M] [master BR] up type veth peer name PEER netns NS``.

        The peer cannot be brought up in the same request (the kernel opens it before the pair is
        joined: ENOTCONN); send ``link_set(PEER, up=True)`` in its namespace next."""
        peer = _ifinfo() + _name(peer_ifname)
        if peer_netns_fd is not None:
            peer += _u32(IFLA_NET_NS_FD, peer_netns_fd)
        if mtu:
            peer += _u32(IFLA_MTU, mtu)
        if peer_mac:
            peer += attr(IFLA_ADDRESS, bytes.fromhex(peer_mac.replace(":", "")))
        info = attr(IFLA_INFO_KIND, b"veth\0") + attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer))
        attrs = _name(ifname) + attr(IFLA_LINKINFO, info)
        if mtu:
            attrs += _u32(IFLA_MTU, mtu)
        if master is not None:
            attrs += _u32(IFLA_MASTER, master)
        if mac:
            attrs += attr(IFLA_ADDRESS, bytes.fromhex(mac.replace(":", "")))
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, _ifinfo(up=True) + attrs)

    # -- addresses and routes ---------------------------------------------------------------
    def address(self, add: bool, index: int, cidr: str) -> None:
        """``ip addr add|del CIDR dev INDEX``."""
        iface = ipaddress.ip_interface(cidr)
        family = socket.AF_INET if iface.version == 4 else socket.AF_INET6
        packed = iface.ip.packed
        body = _IFADDRMSG.pack(family, iface.network.prefixlen, 0, RT_SCOPE_UNIVERSE, index)
        body += attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed)
        if add:
            self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)
        else:
            self.request(RTM_DELADDR, 0, body)

    def route(self, add: bool, dest: str, *, via: str | None = None, oif: int | None = None,
              nexthops: tuple[str, ...] | list[str] = ()) -> None:
        """``ip route add|del DEST [via GW] [dev OIF] proto static`` in the main table; with ``nexthops``
        a multipath route (``nexthop via GW1 [dev OIF] nexthop via GW2 …``, each of weight 1)."""
        gateway = ipaddress.ip_address(via or nexthops[0]) if via or nexthops else None
        if dest == "default":
            net = ipaddress.ip_network("::/0" if gateway is not None and gateway.version == 6 else "0.0.0.0/0")
        else:
            net = ipaddress.ip_network(dest, strict=False)
        family = socket.AF_INET if net.version == 4 else socket.AF_INET6
        scope = RT_SCOPE_LINK if gateway is None and add else RT_SCOPE_UNIVERSE
        body = _RTMSG.pack(family, net.prefixlen, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC, scope, RTN_UNICAST, 0)
        if net.prefixlen:
            body += attr(RTA_DST, net.network_address.packed)
        if nexthops:
            hops = b""
            for hop in nexthops:
                gw = attr(RTA_GATEWAY, ipaddress.ip_address(hop).packed)
                hops += _RTNEXTHOP.pack(_RTNEXTHOP.size + len(gw), 0, 0, oif or 0) + gw
            body += attr(RTA_MULTIPATH, hops)
        else:
            if gateway is not None:
                body += attr(RTA_GATEWAY, gateway.packed)
            if oif is not None:
                body += _u32(RTA_OIF, oif)
        if add:
            self.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body)
        else:
            self.request(RTM_DELROUTE, 0, body)
