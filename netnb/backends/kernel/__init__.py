"""The kernel backend: a per-lab agent process that builds the lab with pyroute2 in namespaces."""
