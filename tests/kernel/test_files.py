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
