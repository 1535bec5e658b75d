"""A node's own files: described (node.file, node.files_from), checked, planned, written, read (simulation)."""

from __future__ import annotations

import os

import pytest

import netnb
from netnb.errors import LabStateError, TopologyError, UsageError
from tests import labs


def test_files_are_checked_before_anything_is_built():
    lab = netnb.Lab("bad-files", backend="sim")
    a = lab.host("a")
    for path in ("etc/hosts", "/etc/../hosts", "/proc/sys/net/ipv4/ip_forward", "/", "/dev/x"):
        with pytest.raises(UsageError, match="path"):
            a.file(path, "x")
    with pytest.raises(UsageError, match="mode"):
        a.file("/etc/x", "x", mode=0o10000)
    with pytest.raises(UsageError, match="text or bytes"):
        a.file("/etc/x", 3)  # type: ignore[arg-type]
    a.file("/srv/site", "a file")
    a.file("/srv/site/index.html", "needs /srv/site to be a folder")
    with pytest.raises(TopologyError, match=r"/srv/site/index.html needs /srv/site to be a folder"):
        lab.plan()
    assert not lab.running


def test_a_later_file_replaces_an_earlier_one_and_the_plan_lists_them():
    lab = labs.web_files("plan-files")
    lab["web"].file("/srv/www/index.html", "second")
    script = lab.plan().script()
    assert "# files, in each node's own view of the filesystem (never the machine's)" in script
    assert "ip netns exec web install -D -m 644 /dev/stdin /srv/www/index.html  # 6 bytes" in script
    assert "ip netns exec web install -D -m 600 /dev/stdin /srv/www/notes/todo.txt  # 12 bytes" in script


def test_files_from_a_folder_keep_their_places_and_modes(tmp_path):
    (tmp_path / "etc" / "frr").mkdir(parents=True)
    (tmp_path / "etc" / "frr" / "frr.conf").write_text("router rip\n")
    (tmp_path / "var" / "log" / "empty").mkdir(parents=True)
    script = tmp_path / "usr" / "local" / "bin" / "hello"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\necho hello\n")
    os.chmod(script, 0o755)
    lab = netnb.Lab("from-folder", backend="sim")
    r = lab.router("r1")
    assert r.files_from(tmp_path) == 2
    files = {f.path: f for f in r.spec.files.values()}
    assert files["/etc/frr/frr.conf"].content == b"router rip\n"
    assert files["/usr/local/bin/hello"].mode == 0o755
    assert files["/var/log/empty"].content is None  # a folder
    assert "/" not in files
    assert r.files_from(tmp_path / "etc", to="/opt/conf") == 1
    assert "/opt/conf/frr/frr.conf" in r.spec.files
    with pytest.raises(UsageError, match="is not a folder"):
        r.files_from(tmp_path / "nothing-here")


def test_files_are_written_before_startup_and_read_back():
    lab = labs.web_files("sim-files")
    lab["web"].startup("cat /etc/netnb-test/hosts")
    with lab:
        assert lab.startup_results[0].stdout == "10.0.0.1 web\n10.0.0.2 client\n"
        web, client = lab["web"], lab["client"]
        assert web.read_file("/srv/www/notes/todo.txt") == b"ping client\n"
        web.write_file("/etc/motd", "hello\n")
        assert web.run("cat /etc/motd").stdout == "hello\n"
        assert client.run("cat /etc/motd").rc == 1
        with pytest.raises(netnb.NetnbError, match="No such file"):
            client.read_file("/srv/www/index.html")
        with pytest.raises(UsageError, match="absolute"):
            web.read_file("srv/www/index.html")
        with pytest.raises(LabStateError):
            web.file("/etc/late", "x")
        assert lab.timings["files_s"] >= 0
    with pytest.raises(LabStateError):
        lab["web"].read_file("/etc/motd")


def test_simulated_redirections_write_the_nodes_own_files():
    with labs.web_files("sim-redirect") as lab:
        web = lab["web"]
        r = web.run("echo a > /tmp/x; echo b >> /tmp/x; echo c 1>>/tmp/x; cat /nope 2>/tmp/err; cat /tmp/x /tmp/err")
        assert r.stdout == "a\nb\nc\ncat: /nope: No such file or directory\n" and r.stderr == ""
        assert web.run("echo x > relative").stderr.startswith("sh: relative: the simulation writes files by absolute")
        assert web.run("echo gone > /dev/null").stdout == ""


def test_a_shared_folder_is_one_folder_for_every_node(tmp_path):
    (tmp_path / "given").mkdir()
    (tmp_path / "given" / "hello.txt").write_text("hello\n")
    lab = labs.three_pcs("shared-sim", backend="sim")
    lab.share("/shared", source=tmp_path / "given")
    script = lab.plan().script()
    assert "ip netns exec B mount --bind \"$LAB/shares/shared\" /shared" in script
    assert "ip netns exec A install -D -m 644 /dev/stdin /shared/hello.txt  # 6 bytes" in script
    with lab:
        a, b, sw = lab["A"], lab["B"], lab["sw"]
        assert b.read_file("/shared/hello.txt") == b"hello\n" and sw.run("cat /shared/hello.txt").stdout == "hello\n"
        a.run("echo from A > /shared/a.txt", check=True)
        assert b.run("cat /shared/a.txt").stdout == "from A\n"
        b.write_file("/etc/own.txt", "B's own")  # (its own files stay its own)
        assert a.run("cat /etc/own.txt").rc != 0
    assert (tmp_path / "given" / "hello.txt").read_text() == "hello\n" and len(os.listdir(tmp_path / "given")) == 1


def test_shared_folder_problems_are_named():
    lab = netnb.Lab("shared-bad", backend="sim")
    lab.host("A")
    with pytest.raises(UsageError, match="at must be absolute"):
        lab.share("shared")
    with pytest.raises(UsageError, match="not a folder of this machine"):
        lab.share("/shared", source="/no/such/folder")
    lab.share("/srv/data")
    lab.share("/srv/data/inner")
    lab.share("/srv_data")
    lab.share("/srv/data")
    with pytest.raises(TopologyError) as info:
        lab.resolved()
    text = "\n".join(info.value.problems)
    for fragment in ("'/srv/data/inner': it is inside the shared folder '/srv/data'", "shares/srv_data, is also",
                     "'/srv/data': shared twice"):
        assert fragment in text, (fragment, text)
