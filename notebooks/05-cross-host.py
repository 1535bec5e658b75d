# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Containers across hosts
# [Open in Colab](https://colab.research.google.com/github/netnb/netnb/blob/main/notebooks/05-cross-host.ipynb) · [Open in Binder](https://mybinder.org/v2/gh/netnb/netnb/main?labpath=notebooks/05-cross-host.ipynb) · or in your browser from the documentation site, nothing to install
#
# *Example 5 of the article "Docker networking" (in Chinese, see `shared/seed`).*
#
# containerA (172.17.1.2) lives on hostA (192.168.3.2), containerB (172.17.2.2) on hostB (192.168.3.3).
# The LAN between the hosts knows nothing about 172.17.x.x. Two ways to connect them: tell each host
# where the other's containers are (routes), or wrap container frames in packets between the hosts
# (an overlay, VXLAN, as Docker's overlay driver does).

# %% tags=["netnb-setup"]
import importlib.util
import sys

if sys.platform == "emscripten":  # JupyterLite: netnb's wheel (and scapy's) come with the page
    import piplite

    await piplite.install("netnb")
elif "google.colab" in sys.modules and importlib.util.find_spec("netnb") is None:  # Colab: from its repository
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "netnb @ git+https://github.com/netnb/netnb"], check=True)

# %%
import netnb
from netnb.docker import DockerHost

netnb.require_labs()

# %%
lab = netnb.Lab("cross-host")
lan = lab.switch("lan", subnet="192.168.3.0/24")
hostA = DockerHost(lab, "hostA", lan, ip="192.168.3.2", bridge_subnet="172.17.1.0/24")   # Docker's --bip
hostB = DockerHost(lab, "hostB", lan, ip="192.168.3.3", bridge_subnet="172.17.2.0/24")
hostA.route("172.17.2.0/24", via="192.168.3.3")
hostB.route("172.17.1.0/24", via="192.168.3.2")
lab.start()
a = hostA.run("containerA")
b = hostB.run("containerB")
a.ip, b.ip

# %% [markdown]
# ## Routes alone
#
# The article says adding routes is enough. On a Docker host of today it is not: hostB's FORWARD
# chain has policy DROP and only lets in what Docker published, and hostA would masquerade the
# container's address anyway.

# %%
assert not a.ping(b.ip, count=1, timeout=0.5).ok
print(hostB.iptables("-nvL FORWARD"))

# %% [markdown]
# Docker's documentation says where your own rules go: the DOCKER-USER chain. `route_to` adds the
# route plus two rules: no MASQUERADE between the two container subnets on the sender, and an ACCEPT
# in DOCKER-USER on the receiver.

# %%
hostA.route_to(hostB)
hostB.route_to(hostA)
with lab.capture(lan) as by_routes:
    assert a.ping(b.ip, count=2).ok
on_wire = by_routes.filter("icmp")
assert {p["IP"].src for p in on_wire} == {"172.17.1.2", "172.17.2.2"}
on_wire

# %% [markdown]
# The LAN now carries container addresses: every router between the hosts would need those routes.

# %% [markdown]
# ## An overlay
#
# An overlay network is created once and usable on every Docker host. Each host gets a VXLAN tunnel
# endpoint; a container's Ethernet frame travels inside a UDP packet (port 4789) from host to host.
# The LAN only ever sees the hosts' addresses.

# %%
hostA.network_create("multi", driver="overlay")
ca = hostA.run("ca", network="multi")
cb = hostB.run("cb", network="multi")
with lab.capture(lan, ca, cb) as by_overlay:
    assert ca.ping(cb.ip, count=2).ok
at_lan = by_overlay.at(lan)
assert {p["IP"].src for p in at_lan.filter("ip")} == {"192.168.3.2", "192.168.3.3"}
assert len(at_lan.filter("ip")) == len(at_lan.filter("udp port 4789"))
at_lan

# %% [markdown]
# Follow one ping: in containerA it is a plain ICMP packet, on the LAN it is wrapped in VXLAN between
# the hosts, in containerB it is plain again.

# %%
request = by_overlay.at(ca).filter("icmp[icmptype] = icmp-echo")[0]
by_overlay.journey(request)

# %% [markdown]
# The tunnel costs 50 bytes per frame, so containers on the overlay get an MTU of 1450: a 1422-byte
# ping (1450 with its headers) passes with "don't fragment", 1423 does not.

# %%
assert ca.ping(cb.ip, count=1, size=1422, dont_fragment=True).ok
assert not ca.ping(cb.ip, count=1, size=1423, dont_fragment=True, timeout=0.5).ok

# %%
lab.stop()
