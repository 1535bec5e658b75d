"""The hand-encoded rtnetlink requests, decoded again field by field (no kernel needed: nothing is sent)."""

from __future__ import annotations

import socket
import struct

import pytest

from netnb.backends.kernel import rtnl


def attrs(data: bytes) -> dict[int, bytes]:
    """Decode a run of netlink attributes (type -> payload), checking every length and padding."""
    out, offset = {}, 0
    while offset < len(data):
        size, kind = struct.unpack_from("=HH", data, offset)
        assert size >= 4 and offset + size <= len(data)
        out[kind] = data[offset + 4:offset + size]
        offset += (size + 3) & ~3
    assert offset == len(data)
    return out


class Recorder(rtnl.Rtnl):
    """An Rtnl whose requests are kept instead of sent."""

    def __init__(self) -> None:  # no socket
        self.sent: list[tuple[int, int, bytes]] = []

    def request(self, kind: int, flags: int, body: bytes) -> bytes:
        self.sent.append((kind, flags, body))
        return b""


def test_attributes_are_padded_to_four_bytes():
    assert rtnl.attr(1, b"abc") == struct.pack("=HH", 7, 1) + b"abc\0"
    assert len(rtnl.attr(1, b"abcd")) == 8


def test_setting_a_master_leaves_the_link_state_alone():
    # ifi_flags = ifi_change = 0 means "change no flag"; a change mask without the flag would take it down.
    r = Recorder()
    r.link_set("eth0", master=7)
    kind, _, body = r.sent[0]
    _, _, _, flags, change = struct.unpack_from("=BxHiII", body)
    assert kind == rtnl.RTM_NEWLINK and (flags, change) == (0, 0)
    a = attrs(body[16:])
    assert a[rtnl.IFLA_IFNAME] == b"eth0\0" and struct.unpack("=I", a[rtnl.IFLA_MASTER]) == (7,)
    r.link_set("eth0", up=False)
    _, _, _, flags, change = struct.unpack_from("=BxHiII", r.sent[1][2])
    assert (flags, change) == (0, rtnl.IFF_UP)


def test_a_veth_pair_carries_its_peer_namespace_mtu_and_mac():
    r = Recorder()
    r.add_veth("p1", "eth0", peer_netns_fd=42, mtu=1450, peer_mac="02:42:ac:11:00:02", master=3,
               mac="02:00:00:00:00:0b")
    kind, flags, body = r.sent[0]
    assert kind == rtnl.RTM_NEWLINK and flags & rtnl.NLM_F_CREATE and flags & rtnl.NLM_F_EXCL
    _, _, _, up, change = struct.unpack_from("=BxHiII", body)
    assert up == change == rtnl.IFF_UP
    top = attrs(body[16:])
    assert top[rtnl.IFLA_IFNAME] == b"p1\0" and struct.unpack("=I", top[rtnl.IFLA_MTU]) == (1450,)
    assert struct.unpack("=I", top[rtnl.IFLA_MASTER]) == (3,)
    assert top[rtnl.IFLA_ADDRESS] == bytes.fromhex("02000000000b")  # this end's own MAC
    info = attrs(top[rtnl.IFLA_LINKINFO])
    assert info[rtnl.IFLA_INFO_KIND] == b"veth\0"
    peer = attrs(info[rtnl.IFLA_INFO_DATA])[rtnl.VETH_INFO_PEER]
    _, _, _, peer_flags, _ = struct.unpack_from("=BxHiII", peer)
    assert peer_flags == 0  # the kernel refuses to open a peer before the pair is joined (ENOTCONN)
    p = attrs(peer[16:])
    assert p[rtnl.IFLA_IFNAME] == b"eth0\0" and struct.unpack("=I", p[rtnl.IFLA_NET_NS_FD]) == (42,)
    assert p[rtnl.IFLA_ADDRESS] == bytes.fromhex("0242ac110002") and struct.unpack("=I", p[rtnl.IFLA_MTU]) == (1450,)


@pytest.mark.parametrize("cidr, family, plen", [("10.0.0.1/24", socket.AF_INET, 24), ("fd00::1/64", socket.AF_INET6, 64)])
def test_addresses_of_both_families(cidr, family, plen):
    r = Recorder()
    r.address(True, 5, cidr)
    kind, _, body = r.sent[0]
    fam, prefixlen, _, _, index = struct.unpack_from("=BBBBI", body)
    assert (kind, fam, prefixlen, index) == (rtnl.RTM_NEWADDR, family, plen, 5)
    a = attrs(body[8:])
    ip = socket.inet_pton(family, cidr.split("/")[0])
    assert a[rtnl.IFA_LOCAL] == a[rtnl.IFA_ADDRESS] == ip
    r.address(False, 5, cidr)
    assert r.sent[1][0] == rtnl.RTM_DELADDR


def test_routes_default_gateway_and_device():
    r = Recorder()
    r.route(True, "default", via="10.0.1.1")
    r.route(True, "10.9.0.0/16", oif=4)
    r.route(True, "default", via="fd00::1")
    (k1, _, b1), (_, _, b2), (_, _, b3) = r.sent
    fam, dst_len, _, _, table, proto, scope, rtype, _ = struct.unpack_from("=BBBBBBBBI", b1)
    assert (k1, fam, dst_len, table, proto, scope, rtype) == (rtnl.RTM_NEWROUTE, socket.AF_INET, 0, 254, 4, 0, 1)
    assert attrs(b1[12:]) == {rtnl.RTA_GATEWAY: bytes([10, 0, 1, 1])}
    _, dst_len, _, _, _, _, scope, _, _ = struct.unpack_from("=BBBBBBBBI", b2)
    assert (dst_len, scope) == (16, rtnl.RT_SCOPE_LINK)  # no gateway: the subnet is on the link
    assert attrs(b2[12:]) == {rtnl.RTA_DST: bytes([10, 9, 0, 0]), rtnl.RTA_OIF: struct.pack("=I", 4)}
    assert struct.unpack_from("=B", b3)[0] == socket.AF_INET6
