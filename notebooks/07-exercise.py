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
# # Exercise: fix the broken office
# [Open in Colab](https://colab.research.google.com/github/netnb/netnb/blob/main/notebooks/07-exercise.ipynb) · [Open in Binder](https://mybinder.org/v2/gh/netnb/netnb/main?labpath=notebooks/07-exercise.ipynb) · or in your browser from the documentation site, nothing to install
#
# This lab is broken in three places. Each check cell says **PASS** or **FAIL** with a hint. Change only
# the cells marked *your fix*, using the same commands you would type on a real machine
# (`node.run("ip ...")`, `node.run("iptables ...")`). The answers are at the very end — try first!
#
# The office: PCs `pc1` and `pc2` on a switch, a router `gw` between the office (10.0.1.0/24) and the
# outside (a web server at 203.0.113.80), hiding the office behind its own address 198.51.100.2.

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

lab = netnb.Lab("exercise")
office = lab.switch("office", subnet="10.0.1.0/24")
pc1, pc2, gw, www = lab.host("pc1"), lab.host("pc2"), lab.router("gw"), lab.host("www")
lab.link(pc1, office, ip="10.0.1.11/24")
lab.link(pc2, office, ip="10.0.1.12/24")
lab.link(gw, office, ip="10.0.1.1/24")
lab.link(gw, www, ip=("198.51.100.2/24", "198.51.100.80/24"))
pc2.route("default", via="10.0.1.1")          # pc1 has no default route: broken (1)
lab.start()
pc1.run("ip link set eth0 down")              # broken (2): someone unplugged pc1's cable
# broken (3): gw does not hide the office (no MASQUERADE), and www has no route back to 10.0.1.0/24


def check(name: str, ok: bool, hint: str) -> bool:
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + ("" if ok else f"\n      hint: {hint}"))
    return ok


# %% [markdown]
# ## 1. pc1's cable
#
# *Your fix:* bring pc1's interface up.

# %%
SOLVE = False          # the solution cells run when this is True (CI runs the notebook solved)
if SOLVE:
    pc1.run("ip link set eth0 up", check=True)

# %%
lab.wait_ready()  # a link that was just brought up carries packets a moment later
up = next(i for i in pc1.interfaces() if i.name == "eth0").state == "UP"
check("pc1 is connected", up and pc1.ping("10.0.1.12", count=1, timeout=0.5).ok,
      "pc1.run('ip -br link') shows its eth0 state; 'ip link set ... up'")

# %% [markdown]
# ## 2. pc1's way out
#
# *Your fix:* give pc1 a default route through the router.

# %%
if SOLVE:
    pc1.run("ip route add default via 10.0.1.1", check=True)

# %%
check("pc1 reaches the router's far side", pc1.ping("198.51.100.2", count=1, timeout=0.5).ok,
      "compare pc1.routes() with pc2.routes()")

# %% [markdown]
# ## 3. The outside answers
#
# www has no route to 10.0.1.0/24, so its replies to office addresses go nowhere. Don't add one:
# make `gw` rewrite the office's addresses to its own, as a real office router does.
#
# *Your fix:* one iptables rule on gw.

# %%
if SOLVE:
    gw.run("iptables -t nat -A POSTROUTING -s 10.0.1.0/24 -o eth1 -j MASQUERADE", check=True)

# %%
with lab.capture(www) as cap:
    reached = pc1.ping("198.51.100.80", count=1, timeout=1).ok
seen_from = {p["IP"].src for p in cap.filter("icmp[icmptype] = icmp-echo")}
check("pc1 reaches www, which sees only gw's address", reached and seen_from == {"198.51.100.2"},
      "the nat table's POSTROUTING chain, target MASQUERADE, out of gw's interface towards www")

# %% [markdown]
# ## Score

# %%
results = [
    next(i for i in pc1.interfaces() if i.name == "eth0").state == "UP",
    pc1.ping("198.51.100.2", count=1, timeout=0.5).ok,
    pc1.ping("198.51.100.80", count=1, timeout=0.5).ok,
]
print(f"{sum(results)}/3 fixed")
if SOLVE:
    assert all(results)

# %%
lab.stop()

# %% [markdown]
# ## Answers
#
# 1. `pc1.run("ip link set eth0 up")`
# 2. `pc1.run("ip route add default via 10.0.1.1")`
# 3. `gw.run("iptables -t nat -A POSTROUTING -s 10.0.1.0/24 -o eth1 -j MASQUERADE")`
#
# (Set `SOLVE = True` in the first fix cell and run everything to see them work.)
