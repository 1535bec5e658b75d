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
# # Docker's bridge and NAT
# [Open in Colab](https://colab.research.google.com/github/netnb/netnb/blob/main/notebooks/04-docker-nat.ipynb) · [Open in Binder](https://mybinder.org/v2/gh/netnb/netnb/main?labpath=notebooks/04-docker-nat.ipynb) · or in your browser from the documentation site, nothing to install
#
# *Example 4 of the article "Docker networking" (in Chinese, see `shared/seed`).*
#
# A Docker host gives every container its own network namespace with one end of a veth pair (`eth0`);
# the other end (`vethXXXXXXX`) is a port of the bridge `docker0` (172.17.0.1/16). The host forwards
# packets (`ip_forward=1`) and uses netfilter's NAT: outgoing packets get the host's address as their
# source (**MASQUERADE**), and a published port sends incoming connections to the container
# (**DNAT**). netnb builds exactly that, with the rules of Docker Engine 24.0, in a lab: the LAN, the
# "internet" and the client are namespaces too.

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
lab = netnb.Lab("docker-nat")
lan = lab.switch("lan", subnet="192.168.3.0/24")               # the physical LAN
internet = lab.internet(lan, gateway="192.168.3.1")            # a router and a web server "outside"
ubuntu1 = DockerHost(lab, "ubuntu1", lan, ip="192.168.3.2")    # the article's Docker host
client = lab.host("client")
lab.link(client, lan, ip="192.168.3.10/24")
lab.start()
lab

# %% [markdown]
# ## `docker run -d -P`
#
# `publish_all=True` is `-P`: every exposed port gets a host port, from 49153 up, as in the article.

# %%
web = ubuntu1.run("myapp", command="python3 -m http.server 8080", expose=[8080], publish_all=True)
ubuntu1.ps()

# %%
info = ubuntu1.inspect("myapp")
assert info["NetworkSettings"]["IPAddress"] == web.ip == "172.17.0.2"
info["NetworkSettings"]["IPAddress"], info["NetworkSettings"]["Ports"]

# %% [markdown]
# ## Case 1 and 2: containers on one host, and the host
#
# Containers on `docker0` are on one LAN (the bridge); the host is on it too, as 172.17.0.1.

# %%
other = ubuntu1.run("other")
assert other.ping(web.ip, count=1).ok
assert other.ping("172.17.0.1", count=1).ok and ubuntu1.node.ping(web.ip, count=1).ok
web.run("ip -br addr; ip route")

# %% [markdown]
# ## Case 3: the container and other hosts
#
# The client connects to the **host's** address and port 49153; the container answers on 8080. The
# container fetches a page from the internet, which sees the **host's** address. Watch both at the
# client, at the Docker host and in the container:

# %%
web.wait_listening(8080)  # the server in the container is ready once it listens (a few ms after start)
with lab.capture(client, ubuntu1, web) as cap:
    inbound = client.run("curl -s -m 3 -o /dev/null -w '%{http_code}' http://192.168.3.2:49153/")
    outbound = web.run(f"curl -s -m 3 {internet.url}")
assert inbound.stdout == "200" and "Hello" in outbound.stdout
cap.filter("tcp[tcpflags] & tcp-syn != 0")

# %% [markdown]
# The journey of the client's first packet (its SYN): on its way into the container the **destination**
# changes from 192.168.3.2:49153 to 172.17.0.2:8080 — that is the DNAT rule.

# %%
syn_in = cap.filter("tcp[tcpflags] = tcp-syn and dst port 49153")[0]
journey_in = cap.journey(syn_in)
assert journey_in.changed("ip.dst") == [("192.168.3.2", "172.17.0.2")]
assert journey_in.changed("tcp.dport") == [("49153", "8080")]
journey_in

# %% [markdown]
# And the container's packet to the internet: its **source** changes from 172.17.0.2 to the host's
# 192.168.3.2 on the way out — MASQUERADE.

# %%
syn_out = cap.filter("tcp[tcpflags] = tcp-syn and dst host 203.0.113.80")[0]
journey_out = cap.journey(syn_out)
assert journey_out.changed("ip.src") == [("172.17.0.2", "192.168.3.2")]
journey_out

# %% [markdown]
# ## The rules, and their counters
#
# `iptables -t nat -nvL` inside the Docker host, as in the article. The packet counters of the DNAT and
# MASQUERADE lines moved with the traffic above. (iptables 1.8.9 prints protocol numbers, 0 and 6,
# where the article's older iptables printed `all` and `tcp`; the table below translates them.)

# %%
print(ubuntu1.iptables("-t nat -nvL"))

# %%
nat = ubuntu1.nat()
dnat = next(r for r in nat.rows if r[3] == "DNAT")
masq = next(r for r in nat.rows if r[3] == "MASQUERADE" and r[7] == "172.17.0.0/16")
assert int(dnat[1]) >= 1 and int(masq[1]) >= 1
nat

# %% [markdown]
# Outgoing packets get their source rewritten, incoming ones their destination; the kernel's
# connection tracking remembers each rewrite so that the replies are rewritten back. The conntrack
# table inside the host shows both directions of each connection:

# %%
ubuntu1.node.run("cat /proc/net/nf_conntrack | grep -E 'dport=(49153|80) ' | head -5")

# %%
lab.draw()

# %%
lab.stop()
