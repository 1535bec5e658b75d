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
# # Linux virtual network devices
# [Open in Colab](https://colab.research.google.com/github/netnb/netnb/blob/main/notebooks/01-devices.ipynb) · [Open in Binder](https://mybinder.org/v2/gh/netnb/netnb/main?labpath=notebooks/01-devices.ipynb) · or in your browser from the documentation site, nothing to install
#
# *Example 1 of the article "Docker networking" (in Chinese, see `shared/seed`).*
#
# `eth0` is only a name for something that sends and receives frames. Linux can make such things out of
# nothing: a **veth pair** (two cards joined by a cable), a **bridge** (a switch), a **TAP** device (a
# card whose other side is a program, such as a VM), routes and forwarding (a router), NAT (a gateway).
# With them, one machine emulates hosts, L2 switches, routers, gateways, NICs — and even, when the
# kernel has the module, 802.1Q VLAN switches.

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

env = netnb.require_labs()

# %% [markdown]
# ## A fresh namespace has only `lo`

# %%
lab = netnb.Lab("devices")
box = lab.host("box")
peer = lab.host("peer")
lab.start()
box.run("ip -d link")

# %%
assert [i.name for i in box.interfaces()] == ["lo"]

# %% [markdown]
# The kernel lists the devices of a namespace in `/sys/class/net` too. Like `ip netns exec`, netnb gives
# the commands of each node a `/sys` mounted from inside the node, so this is `box`'s list, not the
# machine's:

# %%
box.run("ls /sys/class/net")

# %%
assert box.run("ls /sys/class/net").stdout.split() == ["lo"]

# %% [markdown]
# ## veth: a cable with a card at each end
#
# One end stays here, the other goes into `peer`'s namespace. netnb's namespaces have no names under
# `/run/netns` (that is why nothing is left behind if a notebook dies), so instead of `netns peer` we
# give `ip` the id of a process that lives in `peer`: it means "that process's namespace".

# %%
anchor = peer.popen("sleep infinity")
box.run(f"ip link add v-box type veth peer name v-peer netns {anchor.pid}", check=True)
box.run("ip addr add 10.9.0.1/24 dev v-box && ip link set v-box up", check=True)
peer.run("ip addr add 10.9.0.2/24 dev v-peer && ip link set v-peer up", check=True)
lab.wait_ready()  # the kernel switches a new link on up to ~1 s after `up`; wait for that, not for luck
assert box.ping("10.9.0.2", count=1).ok
box.run("ip -br link show v-box")

# %% [markdown]
# ## bridge: a switch
#
# Ports are added with `master`. The bridge learns which MAC is behind which port.

# %%
box.run("ip link add br0 type bridge && ip link set br0 up", check=True)
box.run("ip link set v-box nomaster; ip addr flush dev v-box; ip link set v-box master br0", check=True)
box.run("ip addr add 10.9.0.1/24 dev br0", check=True)
lab.wait_ready()
assert box.ping("10.9.0.2", count=1).ok
box.run("bridge link; bridge fdb show br br0 | grep -v permanent")

# %% [markdown]
# ## TAP: a card whose other side is a program
#
# Frames the kernel sends to a TAP device are read by whoever holds `/dev/net/tun` open for it — a VM's
# hypervisor, or here a tiny guest (notebook 02 builds four). Unopened, the TAP has no carrier.
#
# Making one means opening `/dev/net/tun`. As root that always works; a *rootless* lab (root only
# inside its own user namespace) is checked against your own user, so it works only where the
# machine leaves that file open to everyone. If the kernel refuses here, that refusal is the lesson:
# the cell says why and the notebook goes on.

# %%
tap = box.run("ip tuntap add dev tap0 mode tap && ip link set tap0 master br0 up")
if tap.ok:
    print(box.run("ip -br link show tap0").stdout)
else:
    print(f"The kernel refused: {tap.stderr.strip()}\nWhy: {env.tap_reason}")

# %%
assert tap.ok == env.tap  # netnb.check() knew in advance whether TAP devices can be made here

# %% [markdown]
# ## Routes and forwarding: a router
#
# With `ip_forward=1` a namespace forwards between its cards, following its routing table.

# %%
box.run("sysctl -w net.ipv4.ip_forward=1 && ip route")

# %% [markdown]
# ## Hairpin mode
#
# A bridge never sends a frame back out of the port it came in on — unless that port is in *hairpin*
# mode, which virtual switches need when two VMs sit behind one port (or one host talks to itself
# through a NAT on the other side).

# %%
box.run("bridge link set dev v-box hairpin on && bridge -d link show dev v-box | grep -o 'hairpin on'")

# %% [markdown]
# ## 802.1Q VLANs
#
# A VLAN-aware switch tags frames with a 12-bit VLAN id, so one cable carries several separate LANs.
# **This machine's kernel has no 802.1Q support** (no `8021q` VLAN devices and no bridge VLAN
# filtering): `netnb doctor` lists it, and the command below says so. What a tagged frame looks like
# we can still build and show with scapy.

# %%
vlan = box.run("ip link add link v-box name v-box.10 type vlan id 10")
print(vlan.stderr.strip() or "VLAN device created")
if not vlan.ok:
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.l2 import Dot1Q, Ether

    tagged = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / Dot1Q(vlan=10) / IP(dst="10.9.0.2") / ICMP()
    tagged.show()

# %% [markdown]
# On a kernel with 802.1Q, `v-box.10` would send exactly that: the Ethernet header, then a 4-byte tag
# (TPID 0x8100, priority, VLAN id 10), then the IP packet.

# %%
lab.stop()
