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
# # What a bridge is
# [Open in Colab](https://colab.research.google.com/github/netnb/netnb/blob/main/notebooks/03-bridge.ipynb) · [Open in Binder](https://mybinder.org/v2/gh/netnb/netnb/main?labpath=notebooks/03-bridge.ipynb) · or in your browser from the documentation site, nothing to install
#
# *Example 3 of the article "Docker networking" (in Chinese, see `shared/seed`): from two computers on a
# cable, to a host with two network cards, to a bridge, to a hub.*
#
# Each step here is a real lab; every claim is checked by an `assert` you can read.

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

netnb.require_labs()

# %% [markdown]
# ## Two computers, one cable
#
# The simplest network: a veth pair is a cable with a network card at each end.

# %%
two = netnb.Lab("two-pcs")
a, b = two.host("A"), two.host("B")
two.link(a, b, ip=("10.0.0.1/24", "10.0.0.2/24"))
with two:
    assert a.ping(b).ok
    print(a.run("ip -br link").stdout)

# %% [markdown]
# ## Three computers: A has a card towards B and another towards C
#
# A is wired to both, but **B cannot reach C**: A is a plain host, and a host does not pass frames
# from one of its cards to the other. B and C are even on one subnet: B asks "who has 10.0.0.3?" by
# ARP, the question arrives on A's NIC1, and goes no further.

# %%
lab = netnb.Lab("three-via-a")
A, B, C = lab.host("A"), lab.host("B"), lab.host("C")
lab.link(A, B, ip=(None, "10.0.0.2/24"), ifname=("nic1", "eth0"))
lab.link(A, C, ip=(None, "10.0.0.3/24"), ifname=("nic2", "eth0"))
lab.start()
assert not B.ping(C, count=1, timeout=0.5).ok
print("B -> C before bridging:", B.ping(C, count=1, timeout=0.5))

# %% [markdown]
# ## Bridge NIC1 and NIC2
#
# A Linux bridge inside A joins its two cards into one switch. These are the commands a person would
# type; netnb runs them inside A's namespace.

# %%
for cmd in ("ip link add br0 type bridge", "ip link set nic1 master br0", "ip link set nic2 master br0",
            "ip link set br0 up"):
    A.run(cmd, check=True)
lab.wait_ready()  # the kernel switches a new bridge on a moment after `up`: wait for it, not for luck
assert B.ping(C, count=2).ok
print("B -> C after bridging:", B.ping(C))

# %%
A.run("bridge fdb show br br0 | grep -v permanent")

# %%
lab.stop()

# %% [markdown]
# ## Hub or bridge?
#
# A **hub** repeats every frame out of every port. A **bridge** learns, from the source address of each
# frame, which MAC lives behind which port, and then sends a frame only where its destination is.
# netnb's `hub` is a bridge with ageing time 0: it never remembers anything, so it floods like a hub.
#
# We build the same three PCs twice, capture at C while A pings B, and count what C saw. Here is the
# lab with the hub (the bridge's differs only in the middle node's kind):

# %%
def three(kind: str) -> netnb.Lab:
    lab = netnb.Lab(f"three-on-a-{kind}")
    a, b, c = lab.host("A"), lab.host("B"), lab.host("C")
    sw = lab.hub("sw") if kind == "hub" else lab.switch("sw")
    for i, h in enumerate((a, b, c)):
        lab.link(h, sw, ip=f"10.0.0.{i + 1}/24")
    return lab


three("hub")

# %%
seen = {}
for kind in ("hub", "bridge"):
    lab = three(kind)
    with lab:
        with lab.capture(lab["C"]) as cap:
            assert lab["A"].ping(lab["B"], count=3).ok
        seen[kind] = (len(cap.filter("icmp")), len(cap.filter("arp")), list(lab["sw"].fdb()))
        if kind == "hub":
            hub_capture = cap
        else:
            bridge_capture = cap

# %%
hub_icmp, hub_arp, hub_table = seen["hub"]
bridge_icmp, bridge_arp, bridge_table = seen["bridge"]
assert hub_icmp == 6 and hub_table == []          # the hub flooded all 3 requests and 3 replies to C
assert bridge_icmp == 0 and len(bridge_table) >= 2  # the bridge learned A and B: C saw no ping at all
print(f"C saw {hub_icmp} ICMP frames behind the hub, {bridge_icmp} behind the bridge; "
      f"both saw the ARP broadcast ({hub_arp} and {bridge_arp} ARP frames)")

# %%
hub_capture

# %%
bridge_capture
