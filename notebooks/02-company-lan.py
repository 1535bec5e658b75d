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
# # A company LAN on one Linux host
# [Open in Colab](https://colab.research.google.com/github/netnb/netnb/blob/main/notebooks/02-company-lan.ipynb) · [Open in Binder](https://mybinder.org/v2/gh/netnb/netnb/main?labpath=notebooks/02-company-lan.ipynb) · or in your browser from the documentation site, nothing to install
#
# *Example 2 of the article "Docker networking" (in Chinese, see `shared/seed`).*
#
# Picture a small office: four PCs plug into an access switch, the access switch into a core switch,
# and the core switch into a router that reaches the internet, hiding the office's private addresses
# behind its own. The article's point is that one Linux host can *be* all of that for four virtual
# machines:
#
# - each VM's network card is a **TAP device** on the host (what the guest writes comes out of it);
# - the TAP devices are ports of an **access bridge**;
# - a **veth pair** cables the access bridge to a **second-level (core) bridge**;
# - the host itself joins the core bridge through another veth pair, and is the VMs' gateway;
# - the host **routes** to its physical card and **MASQUERADEs** the VMs' addresses to its own.
#
# A VM here is what a hypervisor is, network-wise: a process reading and writing frames on its TAP
# file descriptor (`netnb/vm.py`, a page of Python that answers ARP and ping and can ping).
# The "physical LAN" and the "internet" are namespaces too.

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

netnb.require_labs(tap=True)  # the VMs' network cards are TAP devices: stop here, saying why, if refused

# %%
lab = netnb.Lab("company")
lan = lab.switch("lan", subnet="192.168.3.0/24")                 # the building's physical LAN
internet = lab.internet(lan, gateway="192.168.3.1")              # its router, and a web server outside
server = lab.router("server")                                    # the Linux host
lab.link(server, lan, ip="192.168.3.2/24")                       # its physical NIC, eth0
server.route("default", via="192.168.3.1")
server.bridge("access")                                          # access layer
server.bridge("core")                                            # second level
server.veth("acc-up", "core-down", master=("access", "core"))    # the cable between the two bridges
server.veth("host0", "core-host", master=(None, "core"), ip=("10.0.1.1/24", None))   # the host joins
server.masquerade("10.0.1.0/24", out="eth0")                     # iptables -t nat ... -j MASQUERADE
vms = [lab.vm(f"vm{i}", server, bridge="access", ip=f"10.0.1.{10 + i}/24", gateway="10.0.1.1")
       for i in range(1, 5)]
lab.start()
lab.draw()

# %% [markdown]
# The commands netnb ran inside the host are the ones you would type (excerpt of the plan):

# %%
print("\n".join(line for line in lab.plan().script().splitlines()
                if line.startswith(("ip -n server", "ip netns exec server iptables"))))

# %%
server.run("ip -br link; bridge link")

# %% [markdown]
# ## Inside the office
#
# vm1 reaches vm4 through the access bridge, and its gateway (the host, 10.0.1.1) through the veth
# cable and the core bridge.

# %%
assert vms[0].ping("10.0.1.14", count=2).ok
assert vms[0].ping("10.0.1.1", count=1).ok
vms[0].arp()

# %% [markdown]
# ## To the outside, masqueraded
#
# vm1 pings the web server outside. We watch vm1's TAP device and the host's physical card: the same
# packet leaves the host with the host's address as its source.

# %%
with lab.capture("server:tap-vm1", "server:eth0") as cap:
    result = vms[0].ping(internet.ip, count=2)
assert result.received == 2
cap

# %%
request = cap.filter("icmp[icmptype] = icmp-echo")[0]
journey = cap.journey(request)
assert journey.changed("ip.src") == [("10.0.1.11", "192.168.3.2")]
journey

# %%
server.run("iptables -t nat -nvL POSTROUTING")

# %%
lab.stop()
