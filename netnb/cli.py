"""The ``netnb`` command: ``doctor`` (what this machine allows), ``clean`` (leftovers), ``demo`` (a first
lab), ``run LAB`` (a lab file, or a Kathará, containerlab or Mininet lab).

Usage: ``netnb doctor``, ``netnb clean``, ``netnb demo``, ``netnb run LAB [--plan|--ping|--hold]``,
``netnb schema`` (the JSON Schema of lab files).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from netnb.backends.kernel import registry

_INSTALL_HINT = {
    "ping": "apt-get install iputils-ping",
    "iptables": "apt-get install iptables",
    "nft": "apt-get install nftables",
    "tcpdump": "apt-get install tcpdump",
    "tshark": "apt-get install tshark (optional: reads pcaps in tests)",
    "tc": "apt-get install iproute2",
    "ip": "apt-get install iproute2",
    "traceroute": "apt-get install traceroute (optional: labs that trace routes)",
    "nc": "apt-get install netcat-openbsd (optional: labs that test ports)",
    "conntrack": "apt-get install conntrack (optional: reading NAT's connection table)",
    "vtysh": "bash scripts/setup.sh --frr (optional: FRR, for RIP/OSPF/BGP labs)",
}


def clean() -> list[str]:
    """Remove what labs of this user left behind: only labs whose owner process is gone.

    An agent is stopped only if its pid *and* start time match its record and it still runs netnb's
    agent; a lab folder is removed only if it is this user's (checked without following links) and its
    owner process is gone. Everything else on the machine is left alone. Returns one line per thing removed.
    """
    removed = []
    for rec in registry.read_records():
        if registry.is_alive(rec.owner_pid, rec.owner_start):
            continue  # its notebook still runs: not a leftover
        what = f"lab {rec.lab!r} (id {rec.lab_id}) left by pid {rec.owner_pid}"
        if registry.is_alive(rec.agent_pid, rec.agent_start) and _is_our_agent(rec):
            os.kill(rec.agent_pid, signal.SIGKILL)  # its death takes the lab's namespaces and processes
            deadline = time.monotonic() + 5
            while registry.is_alive(rec.agent_pid, rec.agent_start) and time.monotonic() < deadline:
                time.sleep(0.02)
            removed.append(f"stopped agent pid {rec.agent_pid} of {what}")
        else:
            removed.append(f"removed the record of {what} (nothing of it was still running)")
        if rec.folder and registry.remove_lab_folder(rec.folder):
            removed.append(f"removed the folder {rec.folder} of {what}")
        rec.remove()
    for folder in registry.orphan_lab_folders():  # a crash before its record was written
        if registry.remove_lab_folder(folder):
            removed.append(f"removed the folder {folder} (its notebook is gone)")
    return removed


def _is_our_agent(rec: registry.LabRecord) -> bool:
    """The recorded process (pid and start time already match) is still a netnb agent."""
    from netnb.backends.kernel.agent import PROCESS_NAME

    try:
        with open(f"/proc/{rec.agent_pid}/comm") as f:
            name = f.read().strip()
        with open(f"/proc/{rec.agent_pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return name == PROCESS_NAME and b"netnb.backends.kernel.spawner" in argv


def _sudo_state() -> str:
    """Whether ``sudo -n`` may start netnb's agent spawner (asked with ``sudo -l``, which runs nothing)."""
    import shutil
    import subprocess

    from netnb.backends.kernel.client import spawner_command

    if shutil.which("sudo") is None:
        return "no (sudo is not installed)"
    command = spawner_command(sudo=True)
    ok = subprocess.run(["sudo", "-n", "-l", *command], capture_output=True, check=False).returncode == 0
    state = "yes" if ok else f"no (add a NOPASSWD sudo rule for exactly: {' '.join(command)})"
    writable = _writable_by_user()
    if writable and os.geteuid() != 0:
        state += (f"\n            WARNING: you can write {writable}, which that root process loads: with the rule, "
                  "you (and anything running as you) can become root. Point the rule at a root-owned "
                  "installation (e.g. /opt/netnb/.venv, made by root)")
    return state


def _writable_by_user() -> str:
    """A file or folder of this interpreter's installation of netnb that this user may change, or ''."""
    import site
    import sysconfig

    import netnb

    places = [os.path.dirname(netnb.__file__), sysconfig.get_path("purelib"), *site.getsitepackages(),
              os.path.realpath(sys.executable)]
    return next((p for p in dict.fromkeys(places) if os.path.exists(p) and os.access(p, os.W_OK)), "")


def doctor() -> int:
    """Print what this machine allows; returns 0 when labs can run here."""
    from netnb.backends.kernel.backend import KernelBackend
    from netnb.backends.kernel.client import default_mode, userns_allowed
    from netnb.environment import tap_refusal
    from netnb.backends.kernel.probe import tools

    print(f"python {sys.version.split()[0]} at {sys.executable}")
    try:
        import pyroute2

        print(f"pyroute2 {pyroute2.__version__}")
    except ImportError:
        print("pyroute2 MISSING: pip install pyroute2")
        return 1
    root = os.geteuid() == 0
    print("\nmodes:")
    print(f"  root      {'yes' if root else 'no (not running as root)'}"
          + ("  (every command a lab runs is root on this machine; it writes its own files)" if root else ""))
    tap_reason = tap_refusal(False)
    print(f"  rootless  {'yes' if userns_allowed() else 'no (unprivileged user namespaces are disabled)'}"
          + f"  (VMs: {'yes' if not tap_reason else 'no, ' + tap_reason})")
    print(f"  sudo      {_sudo_state()}  (opt-in: Lab(..., mode='sudo'); root-equivalent: every command a "
          "lab runs is root on this machine)")
    print(f"  default   {default_mode()}")
    ok = True
    print("\ntools:")
    for name, path in tools().items():
        print(f"  {name:<10} {path or 'MISSING: ' + _INSTALL_HINT[name]}")
        ok = ok and (path is not None or name in ("tshark", "nft", "traceroute", "nc", "conntrack", "vtysh"))
    print("\nkernel features (tried in a scratch namespace):")
    backend = KernelBackend()
    try:
        backend.start("doctor")
        features = backend.probe()
    except Exception as exc:  # report, don't crash: this is the diagnostic command
        print(f"  cannot start a lab agent: {exc}")
        return 1
    finally:
        backend.close()
    for name, state in features.items():
        print(f"  {name:<22} {'yes' if state is True else 'no: ' + str(state)}")
    for must in ("veth", "bridge"):
        ok = ok and features.get(must) is True
    print("\nmachine-wide limits (read only: netnb never changes the machine's settings):")
    print(f"  ARP entries            {_arp_limit()} for all namespaces together "
          "(net.ipv4.neigh.default.gc_thresh3):\n"
          "                         n hosts that all talk to one server need ~2n, a full ping mesh n(n-1)")
    print("\nlabs can run here" if ok else "\nsomething labs need is missing (see above)")
    return 0 if ok else 1


def _arp_limit() -> str:
    try:
        with open("/proc/sys/net/ipv4/neigh/default/gc_thresh3") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def demo() -> int:
    """Build the three-PC lab, show it working, and remove it."""
    import netnb

    lab = netnb.Lab("three-pcs")
    a, b, c = lab.host("A"), lab.host("B"), lab.host("C")
    sw = lab.switch("sw")
    lab.link(a, sw, ip="10.0.0.1/24")
    lab.link(b, sw, ip="10.0.0.2/24")
    lab.link(c, sw, ip="10.0.0.3/24")
    print("The plan (the same lab typed by hand):\n")
    print(lab.plan())
    started = time.monotonic()
    with lab:
        print(f"\nbuilt in {time.monotonic() - started:.2f} s")
        print("\nA$ ip -br addr\n" + a.run("ip -br addr").stdout)
        print(f"A pings B: {a.ping(b)}")
        print(f"C pings A: {c.ping(a)}")
        print("\nwhat switch sw learned (MAC -> port):")
        for entry in sw.fdb():
            print(f"  {entry.mac}  {entry.port:<8}  seen {entry.age_s:.1f} s ago")
    print("\nlab removed; the machine's own network was never touched")
    return 0


def run(path: str, *, plan_only: bool, ping: bool, hold: bool) -> int:
    """Validate a lab (a netnb lab file, a Kathará folder, a containerlab or Mininet topology); print its plan,
    or build it (ping all pairs, wait for Enter), then remove it."""
    import netnb
    from netnb.importers import load
    from netnb.labfile import ping_matrix
    from netnb.errors import NetnbError
    from netnb.model import frr

    try:
        lab = load(path)
    except netnb.TopologyError as exc:
        print(exc, file=sys.stderr)
        return 2
    for note in lab.notes:
        print(f"note: {note}")
    if plan_only:
        print(lab.plan())
        return 0
    with lab:
        print(f"lab {lab.name!r} is up ({lab.timings['total_s']:.2f} s): {lab!r}")
        if ping:
            if any(frr.FRR_START in c.command for n in lab.topology.nodes for c in n.startup):
                try:
                    print(f"routing converged in {lab.wait_converged():.1f} s")
                except NetnbError as exc:  # a lab may filter routes on purpose: say so, ping anyway
                    print(f"{exc}\npinging anyway")
            rows = ping_matrix(lab)
            width = max(len(c) for r in rows for c in r) + 1
            print("\n".join("".join(c.ljust(width) for c in r) for r in rows))
            cells = [c for r in rows[1:] for c in r[1:] if c != "·"]
            print(f"{cells.count('✔')} of {len(cells)} pings answered")
        if hold:
            try:
                input("press Enter (or Ctrl-C, or Ctrl-D) to remove the lab… ")
            except (KeyboardInterrupt, EOFError):
                print()
    print("lab removed")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``netnb`` command."""
    parser = argparse.ArgumentParser(prog="netnb", description="Linux virtual networks for Jupyter")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="what this machine allows (modes, tools, kernel features)")
    sub.add_parser("clean", help="remove labs whose notebook is gone (nothing else)")
    sub.add_parser("demo", help="build a three-PC lab, ping, show the MAC table, remove it")
    sub.add_parser("schema", help="print the JSON Schema of lab files (for editors)")
    run_p = sub.add_parser("run", help="build a lab: a netnb lab file (*.yaml), a Kathará lab folder, a "
                                       "containerlab topology (*.clab.yml) or a Mininet topology (*.py)")
    run_p.add_argument("file")
    run_p.add_argument("--plan", action="store_true", help="only print the plan (the ip commands)")
    run_p.add_argument("--ping", action="store_true", help="ping between every pair of hosts")
    run_p.add_argument("--hold", action="store_true", help="keep the lab until Enter is pressed")
    args = parser.parse_args(argv)
    if args.command in ("run", "demo"):
        from netnb.errors import NetnbError

        try:
            if args.command == "demo":
                return demo()
            return run(args.file, plan_only=args.plan, ping=args.ping, hold=args.hold)
        except KeyboardInterrupt:  # `with lab:` has removed the lab on the way out
            print("\ninterrupted; the lab was removed", file=sys.stderr)
            return 130
        except NetnbError as exc:
            print(f"netnb: {exc}", file=sys.stderr)
            return 1
    if args.command == "doctor":
        return doctor()
    if args.command == "schema":
        import json

        from netnb.labfile import schema

        print(json.dumps(schema(), indent=2))
        return 0
    if args.command == "clean":
        lines = clean()
        print("\n".join(lines) if lines else "nothing to clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())
