"""Labs and tutorials run by an unprivileged user: inside a user namespace (no root on the machine),
or through a sudo rule.

The machine's default python3 lives under /root (mode 0700), so the unprivileged user runs Debian's
/usr/bin/python3 from a virtual environment made here, outside /root, with a copy of netnb.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

import netnb

from .helpers import REPO

pytestmark = [pytest.mark.kernel, pytest.mark.rootless]

SCRIPT = """
import json, os, netnb
lab = netnb.Lab("rootless")
a, b, r = lab.host("A"), lab.host("B"), lab.router("R")
sw = lab.switch("sw", subnet="10.0.0.0/24")
lab.link(a, sw); lab.link(r, sw)
lab.link(r, b, ip=("10.0.1.1/24", "10.0.1.2/24"))
a.route("default", via=str(r.addresses[0].ip)); b.route("default", via="10.0.1.1")
lab.share("/shared")
with lab:
    a.run("mkdir -p /shared/sub && echo from-a > /shared/sub/f", check=True)
    agent = lab.agent_pid
    with open(f"/proc/{agent}/status") as f:
        uid_line = next(l for l in f if l.startswith("Uid:"))
    with lab.capture(sw, r) as cap:
        ok = a.ping(b, count=1).ok
    journey = cap.journey(cap.filter("icmp")[0])
    print(json.dumps({"uid": os.getuid(), "agent_uid": int(uid_line.split()[1]),
                      "ping": ok, "inside_uid": a.run("id -u").stdout.strip(),
                      "fdb": len(lab["sw"].fdb()), "hops": journey.points, "dropped": cap.dropped,
                      "sys": a.run("ls /sys/class/net").stdout.split(), "folder": lab.folder,
                      "shared": b.run("cat /shared/sub/f").stdout}))
"""


NOBODY = pwd.getpwnam("nobody")


@pytest.fixture(scope="module")
def venv() -> Iterator[str]:
    """A venv of Debian's python3 outside /root with netnb (a copy of this tree) and what runs notebooks,
    in a folder of this run's own (two runs at once do not collide), removed afterwards."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop to an unprivileged user")
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        pytest.skip("Debian's /usr/bin/python3 is needed for the unprivileged user")
    base = tempfile.mkdtemp(prefix="netnb-rootless-test-")
    try:
        yield _make_venv(python, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _make_venv(python: str, base: str) -> str:
    path = os.path.join(base, "venv")
    subprocess.run([python, "-m", "venv", path], check=True)
    src = os.path.join(base, "src")
    os.makedirs(src)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(REPO, name), src)
    shutil.copytree(os.path.join(REPO, "netnb"), os.path.join(src, "netnb"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([os.path.join(path, "bin", "pip"), "install", "-q", "--disable-pip-version-check", src,
                    "nbclient", "nbformat", "ipykernel"], check=True)
    home = os.path.join(base, "home")
    os.makedirs(home, exist_ok=True)
    os.chown(home, NOBODY.pw_uid, NOBODY.pw_gid)
    subprocess.run(["chmod", "-R", "a+rX", base], check=True)
    return path


def home_of(venv: str) -> str:
    """The unprivileged user's home folder beside the venv."""
    return os.path.join(os.path.dirname(venv), "home")


def as_nobody(venv: str, code: str) -> subprocess.Popen[str]:
    """Start ``python -c code`` from the venv as the user nobody, in its own home folder."""
    home = home_of(venv)
    return subprocess.Popen(
        ["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}", "--clear-groups",
         os.path.join(venv, "bin", "python"), "-c", code],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=home,
        env={"PATH": f"{venv}/bin:/usr/bin:/bin", "HOME": home},
    )


def last_json(venv: str, code: str) -> dict:
    """Run ``code`` as nobody; the JSON object it printed last."""
    proc = as_nobody(venv, code)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_unprivileged_user_builds_a_lab_in_a_user_namespace(venv):
    got = last_json(venv, SCRIPT)
    assert got["uid"] == NOBODY.pw_uid and got["agent_uid"] == NOBODY.pw_uid  # no root anywhere on the machine
    assert got["inside_uid"] == "0"  # root only inside its own user namespace
    assert got["ping"] and got["fdb"] >= 1
    assert got["hops"] == ["sw:A-eth0", "sw:R-eth0", "R:eth0", "R:eth1"] and got["dropped"] == 0
    assert got["sys"] == ["eth0", "lo"]  # the node's own /sys, mounted inside the user namespace too
    assert got["folder"] and not os.path.exists(got["folder"])  # the lab's folder went with it
    assert got["shared"] == "from-a\n"  # a shared folder, rootless too
    print(sys.version)


@contextlib.contextmanager
def sudo_rule(venv: str) -> Iterator[None]:
    """A NOPASSWD rule for `nobody` naming exactly the spawner command (as `netnb doctor` prints it). It
    makes `nobody` root-equivalent, so it lives only for the block: written under a name sudo ignores,
    checked by visudo, renamed, removed."""
    if shutil.which("sudo") is None:
        pytest.skip("sudo is needed (.ci/run installs it)")
    python = os.path.join(venv, "bin", "python")
    rule = f"/etc/sudoers.d/netnb-test-{os.getpid()}"
    with open(rule + ".new", "w") as f:
        f.write(f"nobody ALL=(root) NOPASSWD: {python} -I -m netnb.backends.kernel.spawner\n")
    os.chmod(rule + ".new", 0o440)
    try:
        subprocess.run(["visudo", "-c", "-q", "-f", rule + ".new"], check=True)
        os.rename(rule + ".new", rule)
        yield
    finally:
        for path in (rule, rule + ".new"):
            if os.path.exists(path):
                os.remove(path)


def test_unprivileged_user_builds_a_lab_through_sudo(venv):
    """mode='sudo': a NOPASSWD rule for exactly the spawner command; the lab's agent runs as root."""
    code = SCRIPT.replace('netnb.Lab("rootless")', 'netnb.Lab("viasudo", mode="sudo")').replace(
        "import json, os, netnb\n", "import json, os, netnb\nnetnb.prepare('sudo'); print('spawner up', flush=True)\n")
    with sudo_rule(venv):
        proc = as_nobody(venv, code)
        assert proc.stdout is not None
        first = proc.stdout.readline()
    out, err = proc.communicate(timeout=120)
    assert first.strip() == "spawner up", err
    assert proc.returncode == 0, err
    got = json.loads(out.strip().splitlines()[-1])
    assert got["uid"] == NOBODY.pw_uid and got["agent_uid"] == 0  # the notebook stays unprivileged
    assert got["inside_uid"] == "0" and got["ping"] and got["fdb"] >= 1
    assert got["hops"] == ["sw:A-eth0", "sw:R-eth0", "R:eth0", "R:eth1"] and got["dropped"] == 0
    # the root agent's files in the user's lab folder (the nodes' views among them) went with it
    assert got["folder"] and not os.path.exists(got["folder"])
    assert got["shared"] == "from-a\n"  # what a node made as root in a shared folder went with the lab too


SUDO_TRICKS = """
import json, os, socket, subprocess, sys
# 1. A netnb package of one's own in the current folder, for the allowed command to import as root.
os.makedirs("trick/netnb/backends/kernel", exist_ok=True)
for d in ("trick/netnb", "trick/netnb/backends", "trick/netnb/backends/kernel"):
    open(d + "/__init__.py", "w").close()
with open("trick/netnb/backends/kernel/spawner.py", "w") as f:
    f.write("import os\\nopen('/tmp/netnb-pwned-%d' % os.getpid(), 'w').write(str(os.geteuid()))\\n")
ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
command = ["sudo", "-n", "--", sys.executable, "-I", "-m", "netnb.backends.kernel.spawner"]
spawner = subprocess.Popen(command, stdin=theirs.fileno(), cwd="trick", stderr=subprocess.PIPE)
theirs.close()
# 2. A hand-made request that asks the root spawner for an environment of one's own.
a, b = socket.socketpair()
r, w = os.pipe()
socket.send_fds(ours, [json.dumps({"rootless": False, "env": {"LD_PRELOAD": "/tmp/evil.so"}}).encode()], [b.fileno(), w])
ours.settimeout(60)
answer, fds, _, _ = socket.recv_fds(ours, 4096, 1)
ours.close()
spawner.wait(30)
print(json.dumps({"answer": json.loads(answer), "fds": len(fds), "stderr": spawner.stderr.read().decode()[-500:]}))
"""


def test_sudo_mode_gives_no_way_to_run_ones_own_code_as_root(venv):
    """With exactly the rule netnb asks for: a `netnb` package in the current folder is not imported (-I),
    and the root spawner refuses an environment sent in a hand-made request."""
    before = set(glob.glob("/tmp/netnb-pwned-*"))
    with sudo_rule(venv):
        got = last_json(venv, SUDO_TRICKS)
    assert set(glob.glob("/tmp/netnb-pwned-*")) == before, "the user's own netnb package ran as root"
    assert got["fds"] == 0 and "takes no environment from its caller" in got["answer"].get("error", ""), got


def test_a_record_folder_squatted_by_another_user_does_not_block_a_rootless_lab(venv):
    """Without XDG_RUNTIME_DIR, records would go to /tmp/netnb-<uid>, which anyone can create first: a
    squatted one (here made by root, with a link beside it as the other trick) is skipped, not followed."""
    squat = f"/tmp/netnb-{NOBODY.pw_uid}"
    if os.path.lexists(squat):
        st = os.lstat(squat)
        if st.st_uid != NOBODY.pw_uid or os.listdir(squat):
            pytest.skip(f"{squat} exists and is not an empty folder of an earlier test run")
        os.rmdir(squat)  # left by the rootless tests above (nobody's, empty)
    os.mkdir(squat, 0o700)  # someone else (root) was first
    try:
        got = last_json(venv, SCRIPT)
        assert got["ping"] and got["uid"] == NOBODY.pw_uid
        records = os.path.join(home_of(venv), ".netnb-run")
        assert os.path.isdir(records) and os.listdir(records) == []  # used, and left empty by the clean stop
        assert os.listdir(squat) == []
    finally:
        os.rmdir(squat)


VM_SCRIPT = """
import json, netnb
lab = netnb.Lab("rootless-vm")
h = lab.host("h")
h.bridge("br0", ip="10.0.0.1/24")
lab.vm("vm1", h, bridge="br0", ip="10.0.0.10/24")
with lab:
    print(json.dumps({"ping": h.ping("10.0.0.10", count=1).ok}))
"""


def test_unprivileged_user_runs_a_vm_where_the_tun_device_is_open_to_all(venv):
    if os.stat("/dev/net/tun").st_mode & 0o006 != 0o006:
        pytest.skip("/dev/net/tun is not open to other users here: VMs need root (the error says so)")
    assert last_json(venv, VM_SCRIPT) == {"ping": True}


NOTEBOOK_RUNNER = """
import json, sys, nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
results = {}
for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    try:
        NotebookClient(nb, timeout=180, kernel_name="python3").execute()
        stderr = [o["text"] for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stderr"]
        results[path] = {"status": "ok", "stderr": stderr} if stderr else {"status": "ok"}
    except CellExecutionError as exc:
        cell = next(i for i, c in enumerate(nb.cells) if any(o.get("output_type") == "error" for o in c.get("outputs", [])))
        results[path] = {"status": "error", "ename": exc.ename, "evalue": exc.evalue, "cell": cell,
                         "source": nb.cells[cell].source}
print(json.dumps(results))
"""


def test_every_tutorial_runs_as_an_unprivileged_user(venv):
    """The safe default on a shared machine (rootless) covers the whole course. Where /dev/net/tun is
    root-only, tutorial 01 explains the refused TAP and goes on, and tutorial 02 (all VMs) stops in its
    first cell that imports netnb (the one asking for labs with TAP devices) with that reason; where it is open to all, both run their VMs rootless."""
    folder = os.path.join(home_of(venv), "notebooks")
    shutil.copytree(os.path.join(REPO, "notebooks"), folder, ignore=shutil.ignore_patterns("*.py", ".*"))
    subprocess.run(["chown", "-R", f"{NOBODY.pw_uid}:{NOBODY.pw_gid}", folder], check=True)
    paths = sorted(glob.glob(os.path.join(folder, "[0-9][0-9]-*.ipynb")))
    proc = as_nobody(venv, NOTEBOOK_RUNNER.replace("sys.argv[1:]", repr(paths)))
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    results = {os.path.basename(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()}
    tap_open = os.stat("/dev/net/tun").st_mode & 0o006 == 0o006
    expected = {name: {"status": "ok"} for name in results}
    if not tap_open:
        got = results["02-company-lan.ipynb"]
        assert got.get("ename") == "LabsUnavailable" and "netnb.require_labs(tap=True)" in got.get("source", ""), got
        assert "/dev/net/tun is mode 0600" in got["evalue"] and "Nothing was built" in got["evalue"], got
        expected["02-company-lan.ipynb"] = got
    failed = {name: got for name, got in results.items() if got != expected[name]}
    assert len(results) == len(paths) >= 8
    assert not failed, "\n\n".join(
        f"{name}: cell {got.get('cell')} raised {got.get('ename')}: {got.get('evalue')}\n--- cell source:\n"
        f"{got.get('source')}" for name, got in failed.items())


ISOLATION = """
import errno, json, os, signal, sys
agent, folder = int(sys.argv[1]), sys.argv[2]
tries = {}
def attempt(name, fn):
    try:
        fn()
        tries[name] = "allowed"
    except OSError as exc:
        tries[name] = errno.errorcode.get(exc.errno, str(exc.errno))
attempt("stop its agent", lambda: os.kill(agent, signal.SIGKILL))
attempt("list its folder", lambda: os.listdir(folder))
attempt("enter its network", lambda: open(f"/proc/{agent}/ns/net").close() or os.setns(0, 0))
attempt("read its environment", lambda: open(f"/proc/{agent}/environ").read())
print(json.dumps(tries))
"""


def test_another_user_can_neither_stop_enter_nor_read_a_lab(venv):
    lab = netnb.Lab("guarded")
    lab.host("A")
    with lab:
        code = ISOLATION.replace("int(sys.argv[1]), sys.argv[2]", f"{lab.agent_pid}, {lab.folder!r}")
        got = last_json(venv, code)
        assert lab["A"].run("true").ok  # still running
    assert got == {"stop its agent": "EPERM", "list its folder": "EACCES", "enter its network": "EACCES",
                   "read its environment": "EACCES"}, got


def test_no_warning_for_a_user_without_a_writable_home(venv):
    """`nobody`'s home is /nonexistent: matplotlib would warn about its cache folder on every import."""
    proc = subprocess.run(
        ["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}", "--clear-groups",
         os.path.join(venv, "bin", "python"), "-c", "import netnb.view.draw, netnb.capture.ladder; print('ok')"],
        capture_output=True, text=True, cwd="/", env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok" and proc.stderr == "", proc.stderr


FILES_SCRIPT = """
import json, os, netnb
home = {home!r}
with open(os.path.join(home, "mine.txt"), "w") as f:
    f.write("mine\\n")
lab = netnb.Lab("rootless-files")
a = lab.host("A")
a.file("/etc/hosts", "10.9.9.9 only-in-a\\n")
with lab:
    r = a.run(f"echo changed >> {{home}}/mine.txt; echo new > {{home}}/new.txt; cat /etc/hosts; echo more >> /etc/hosts")
    print(json.dumps({{"rc": r.rc, "out": r.stdout, "err": r.stderr, "hosts": a.read_file("/etc/hosts").decode(),
                      "seen": a.read_file(f"{{home}}/mine.txt").decode(),
                      "mine": open(os.path.join(home, "mine.txt")).read(),
                      "new": os.path.exists(os.path.join(home, "new.txt"))}}))
"""


def test_a_rootless_lab_changes_none_of_the_users_files(venv):
    """In rootless mode the lab runs with the user's rights, so the user's own files are what it could
    change: the node changes its own copy; /etc/hosts given to the node replaces the machine's in its view.
    (The user's folder is directly in /tmp, as a home is in /home: a node can change a file of the machine in
    its own view only where every folder above it, below the top one, is the user's; see the README.)"""
    home = tempfile.mkdtemp(prefix="netnb-rootless-files-")
    try:
        os.chown(home, NOBODY.pw_uid, NOBODY.pw_gid)
        got = last_json(venv, FILES_SCRIPT.format(home=home))
        assert got["rc"] == 0, got["err"]
        assert got["out"] == "10.9.9.9 only-in-a\n" and got["hosts"] == "10.9.9.9 only-in-a\nmore\n"
        assert got["seen"] == "mine\nchanged\n" and got["mine"] == "mine\n" and not got["new"], got
    finally:
        shutil.rmtree(home, ignore_errors=True)
