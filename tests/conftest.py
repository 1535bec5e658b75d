"""Shared fixtures. The whole suite must leave the machine's own network byte-identical."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

# Values in the root namespace that the kernel changes by itself (counters), not configuration.
_VOLATILE_SYSCTLS = ("net.netfilter.nf_conntrack_count", "fs.", "kernel.random", "net.core.netdev_rss_key")


def _run(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return f"({argv[0]} not installed)"
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


def root_network_snapshot() -> dict[str, str]:
    """Links, addresses, routes, rules, net sysctls and firewall of the root network namespace."""
    sysctls = subprocess.run(["sysctl", "-a"], capture_output=True, text=True, check=False).stdout
    net = "\n".join(line for line in sysctls.splitlines()
                    if line.startswith("net.") and not line.startswith(_VOLATILE_SYSCTLS))
    return {
        "links": _run(["ip", "-d", "link", "show"]),
        "addresses": _run(["ip", "addr", "show"]),
        "routes": _run(["ip", "route", "show", "table", "all"]),
        "rules": _run(["ip", "rule", "show"]),
        "sysctls": net,
        "iptables": _run(["iptables-save"]) if os.geteuid() == 0 else "",
        "nft": _run(["nft", "list", "ruleset"]) if os.geteuid() == 0 else "",
        "netns": _run(["ip", "netns", "list"]),
    }


def snapshot_diff(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Names of the parts that changed."""
    return [key for key in before if before[key] != after.get(key)]


@pytest.fixture(scope="session", autouse=True)
def root_namespace_unchanged():
    """Fails the run (at teardown) if anything in the root network namespace changed."""
    before = root_network_snapshot()
    yield before
    after = root_network_snapshot()
    changed = snapshot_diff(before, after)
    assert not changed, f"the test suite changed the root network namespace: {changed}"


def kernel_available() -> str | None:
    """Why kernel tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "kernel tests run as root (the rootless test covers unprivileged use)"
    if shutil.which("ping") is None:
        return "iputils-ping is not installed (run scripts/setup.sh)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = kernel_available()
    if reason is None:
        return
    for item in items:
        if "kernel" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def this_python_kernel(tmp_path_factory):
    """A 'python3' kernel spec for the interpreter running the tests, first on JUPYTER_PATH, so that
    notebooks run with the netnb under test whatever other kernels this machine has."""
    import json
    import sys

    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)", "language": "python"}))
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(root), old) if p)
    yield "python3"
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old
