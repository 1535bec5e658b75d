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
# # Libnetwork: networks first, then containers
# [Open in Colab](https://colab.research.google.com/github/netnb/netnb/blob/main/notebooks/06-libnetwork.ipynb) · [Open in Binder](https://mybinder.org/v2/gh/netnb/netnb/main?labpath=notebooks/06-libnetwork.ipynb) · or in your browser from the documentation site, nothing to install
#
# *Example 6 of the article "Docker networking" (in Chinese, see `shared/seed`).*
#
# libnetwork turned Docker's networking into drivers: you create networks, then containers join one or
# more of them. Containers on one network talk; containers on different networks are isolated. The
# drivers: `bridge` (a Linux bridge per network), `null` (no connectivity, only `lo`) and `overlay`
# (many hosts, see notebook 05).

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

lab = netnb.Lab("libnetwork")
lan = lab.switch("lan", subnet="192.168.3.0/24")
ubuntu1 = DockerHost(lab, "ubuntu1", lan, ip="192.168.3.2")
lab.start()

# %%
frontend = ubuntu1.network_create("frontend", driver="bridge", subnet="172.30.1.0/24")
backend = ubuntu1.network_create("backend", driver="bridge")
ubuntu1.network_ls()

# %%
web = ubuntu1.run("web", network="frontend")
api = ubuntu1.run("api", network="frontend")
db = ubuntu1.run("db", network="backend")
web.ip, api.ip, db.ip

# %% [markdown]
# ## On one network they talk, by name too

# %%
assert web.ping(api.ip, count=1).ok
assert web.run("ping -c1 -W1 api").ok
web.run("ping -c1 api")

# %% [markdown]
# ## Different networks are isolated
#
# The host routes between its bridges, but Docker's DOCKER-ISOLATION rules drop traffic from one
# network's bridge to another's.

# %%
assert not web.ping(db.ip, count=1, timeout=0.5).ok
print(ubuntu1.iptables("-nvL DOCKER-ISOLATION-STAGE-1"))
print(ubuntu1.iptables("-nvL DOCKER-ISOLATION-STAGE-2"))

# %% [markdown]
# ## A container on two networks reaches both
#
# `docker network connect` gives the container a second interface, `eth1`, on the other network.

# %%
ubuntu1.connect(api, "backend")
assert api.ping(db.ip, count=1).ok and api.ping(web.ip, count=1).ok
assert not web.ping(db.ip, count=1, timeout=0.5).ok    # web itself is still only on frontend
api.run("ip -br addr")

# %% [markdown]
# ## The null driver
#
# A container on the `none` network has only its loopback interface.

# %%
box = ubuntu1.run("box", network="none")
assert [i.name for i in box.interfaces()] == ["lo"]
box.interfaces()

# %%
lab.draw()

# %%
lab.stop()
