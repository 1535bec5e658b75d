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
# # netnb in five minutes
# [Open in Colab](https://colab.research.google.com/github/netnb/netnb/blob/main/notebooks/00-tour.ipynb) · [Open in Binder](https://mybinder.org/v2/gh/netnb/netnb/main?labpath=notebooks/00-tour.ipynb) · or in your browser from the documentation site, nothing to install
#
# netnb builds **real** networks inside this Linux machine: every host, switch and router below is a
# network namespace with real interfaces, real routes and real packets. Nothing touches the machine's
# own network, and everything disappears when the lab stops (or when this notebook's kernel dies).
#
# This tour builds three PCs on one switch, looks at them, pings, captures the traffic, draws it and
# takes it all down again.

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
# ## Describe
#
# Describing a lab changes nothing yet. A *switch* is a Linux bridge in a namespace of its own; each
# `link` is a veth pair, a virtual cable with one end in each namespace.

# %%
lab = netnb.Lab("three-pcs")
a, b, c = lab.host("A"), lab.host("B"), lab.host("C")
sw = lab.switch("sw")
lab.link(a, sw, ip="10.0.0.1/24")
lab.link(b, sw, ip="10.0.0.2/24")
lab.link(c, sw, ip="10.0.0.3/24")
lab

# %% [markdown]
# The plan is the same lab written as the commands you would type by hand (`ip netns add`,
# `ip link add … type veth peer …`). Try them yourself on a spare machine.

# %%
print(lab.plan())

# %% [markdown]
# ## Build, look, ping

# %%
lab.start()
print(f"built in {lab.timings['total_s']:.2f} s")
a.run("ip -br addr")

# %%
result = a.ping(b)
assert result.ok and result.loss == 0
result

# %% [markdown]
# A switch learns which MAC address lives behind which port from the frames it forwards. After the
# ping it knows A and B:

# %%
learned = lab["sw"].fdb()
assert {e.port for e in learned} >= {"A-eth0", "B-eth0"}
learned

# %% [markdown]
# ## Capture
#
# A capture can watch any number of points at once; frames are stored untouched and decoded only when
# you look. Here we watch the switch's ports and host C while A pings B again.

# %%
with lab.capture(sw, c) as cap:
    a.ping(b, count=2)
cap

# %%
icmp_at_c = cap.at(c).filter("icmp")
assert len(icmp_at_c) == 0   # the switch already knows where B is: C never sees A's pings
cap.ladder()

# %% [markdown]
# ## Draw, and tear down

# %%
lab.draw(live=True)

# %%
lab.stop()
lab.state
