"""Hosts on a Linux bridge and an OVS switch, given out of order: Mininet numbers them in natural order."""

from mininet.topo import Topo
from mininet.node import LinuxBridge


class Mixed(Topo):
    def build(self, n=3):
        lan = self.addSwitch('s1', cls=LinuxBridge, stp=True)
        core = self.addSwitch('s2')
        for name in ('h10', 'h2', 'h1'):
            self.addLink(self.addHost(name), lan if name != 'h10' else core)
        self.addLink(lan, core)
