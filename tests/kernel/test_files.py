"""Each node's own view of the files, on the kernel: a lab never changes a file of the machine."""

from __future__ import annotations

import hashlib
import os

import pytest

import netnb
from tests import labs

pytestmark = pytest.mark.kernel

#: Where a lab might write on the machine: folders of every kind (the machine's configuration, root's home,
#: temporary files, programs, the work tree).
WRITES = ["/etc/hosts", "/etc/netnb-test-file", "/root/netnb-test-file", "/tmp/netnb-test-file",
          "/var/tmp/netnb-test-file", "/usr/local/netnb-test-file", "/opt/netnb-test-file", "/home/netnb-test-file"]


def fingerprint(paths: list[str]) -> dict[str, str | None]:
    """Each path's content hash (None: absent)."""
    seen: dict[str, str | None] = {}
    for path in paths:
        try:
            with open(path, "rb") as f:
                seen[path] = hashlib.sha256(f.read()).hexdigest()
        except FileNotFoundError:
            seen[path] = None
    return seen


def test_a_lab_never_changes_the_machines_files(tmp_path):
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "netnb-test-file")
    before = fingerprint(WRITES + [here])
    lab = labs.web_files("kfiles", backend="kernel")
    with lab:
        web, client = lab["web"], lab["client"]
        script = "; ".join(f"echo changed >> {p}" for p in WRITES + [here]) + "; rm -f /etc/hostname"
        r = web.run(script)
        assert r.rc == 0, r.stderr
        # The node sees what it wrote; the machine and the other node do not.
        for path in WRITES + [here]:
            assert web.read_file(path).endswith(b"changed\n"), path
        assert web.run("cat /etc/hostname").rc == 1
        assert client.run("cat /etc/netnb-test-file").rc == 1
        # Each node has its own hostname (its name), in /etc/hostname too; renaming a node renames no machine.
        machine = os.uname().nodename
        assert client.read_file("/etc/hostname") == b"client\n" and client.run("hostname").stdout == "client\n"
        assert web.run("hostname netnb-renamed && hostname").stdout == "netnb-renamed\n"
        assert os.uname().nodename == machine and client.run("hostname").stdout == "client\n"
        assert fingerprint(WRITES + [here]) == before
        # ... and the lab's own folder is still shared with the notebook (web roots, VM sockets, spools).
        web.run(f"echo from-web > {lab.folder}/shared.txt", check=True)
        assert open(os.path.join(lab.folder, "shared.txt")).read() == "from-web\n"
        (tmp_path / "given.txt").write_text("from the notebook\n")
        assert web.run(f"cat {tmp_path}/given.txt").stdout == "from the notebook\n"
    assert fingerprint(WRITES + [here]) == before


def test_described_files_are_there_with_their_modes_and_served():
    with labs.web_files("kserve", backend="kernel") as lab:
        web, client = lab["web"], lab["client"]
        r = web.run("stat -c '%a %s %n' /srv/www/index.html /srv/www/notes/todo.txt /etc/netnb-test/hosts")
        assert r.stdout.splitlines() == ["644 37 /srv/www/index.html", "600 12 /srv/www/notes/todo.txt",
                                         "644 29 /etc/netnb-test/hosts"]
        assert not os.path.exists("/srv/www") and not os.path.exists("/etc/netnb-test")
        web.popen("python3 -m http.server 80 --bind 10.0.0.1 --directory /srv/www").wait_listening(80)
        assert client.run("curl -s http://10.0.0.1/").stdout == "<h1>served from web's own files</h1>\n"
        web.write_file("/usr/local/bin/netnb-hello", "#!/bin/sh\necho hello from $0\n", mode=0o755)
        assert web.run("netnb-hello").stdout == "hello from /usr/local/bin/netnb-hello\n"
        assert client.run("netnb-hello").rc == 127
    assert not os.path.exists("/usr/local/bin/netnb-hello")


def test_startup_commands_run_in_the_nodes_own_view():
    lab = netnb.Lab("kstartup-files", backend="kernel")
    a = lab.host("a")
    a.file("/etc/netnb-test/greeting", "hi\n")
    a.startup("cat /etc/netnb-test/greeting >> /etc/hosts", "grep -c hi /etc/hosts")
    before = fingerprint(["/etc/hosts"])
    with lab:
        assert lab.startup_results[-1].stdout == "1\n"
    assert fingerprint(["/etc/hosts"]) == before


def _top_level() -> dict[str, tuple[int, int, int]]:
    """The machine's top-level entries and its basic devices: name -> (mode, owner, group)."""
    seen = {}
    for name in os.listdir("/"):
        info = os.lstat("/" + name)
        seen["/" + name] = (info.st_mode, info.st_uid, info.st_gid)
    for name in ("null", "zero", "urandom", "tty"):
        info = os.stat("/dev/" + name)
        seen["/dev/" + name] = (info.st_mode, info.st_uid, info.st_gid)
    return seen


def test_a_node_has_a_root_and_devices_of_its_own():
    """What a node does at the top of the tree (new folders such as Kathará's /shared, removing a file of
    the machine's) and to its devices (``tcpdump -w /dev/null`` gives /dev/null to the user tcpdump) stays in
    the node."""
    before = _top_level()
    lab = labs.web_files("kroot", backend="kernel")
    with lab:
        web, client = lab["web"], lab["client"]
        web.run("mkdir /netnb-own-top && echo x > /netnb-own-top/f && touch /netnb-own-file", check=True)
        web.write_file("/shared/banner", b"hello\n")
        assert web.run("cat /netnb-own-top/f /shared/banner").stdout == "x\nhello\n"
        assert client.run("ls /netnb-own-top /shared").rc != 0
        r = web.run("chown nobody /dev/null /dev/zero; chmod 600 /dev/urandom; echo gone > /dev/null; "
                    "head -c 3 /dev/zero | wc -c; ls -l /dev/null")
        assert r.stdout.split("\n")[0] == "3" and " nobody " in r.stdout, r
        for name in os.listdir("/"):
            if os.path.isfile("/" + name) and not os.path.islink("/" + name):
                assert web.run(f"rm -f /{name}").rc != 0, name  # the machine's files at the top: read-only
        assert web.run("ls -d /proc/self /sys/class/net/eth0 /bin/sh").rc == 0
        assert _top_level() == before
    assert _top_level() == before
