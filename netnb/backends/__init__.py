"""Backends carry out a plan: ``kernel`` on real Linux namespaces."""
