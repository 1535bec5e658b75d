"""A node's firewall as API (issue 15: 7 of 17 third-party labs needed one): iptables lines in the
description — policies, user chains, filter and NAT rules with negations — checked with the rest, shown in
the plan, applied at once on a running lab, read back as a table with counters. On the simulated backend
here; tests/sim/test_differential.py runs the same lab on the kernel and compares."""

from __future__ import annotations

import pytest

import netnb
from netnb.labfile import load_text

from ..labs import firewalled


def test_the_firewall_is_in_the_plan_and_does_what_it_says():
    lab = firewalled()
    script = lab.plan().script()
    assert "ip netns exec R iptables -t filter -P FORWARD DROP" in script
    assert ("ip netns exec R iptables -t nat -A PREROUTING -i eth1 -p tcp --dport 80 -j DNAT --to-destination "
            "10.0.1.2:8080") in script
    assert "ip netns exec R iptables -t filter -A INPUT -i eth1 -p udp ! --dport 53 -j LOGGED" in script
    inside, outside, r = lab["inside"], lab["outside"], lab["R"]
    with lab:
        assert inside.ping(outside, count=1).ok  # started inside: passes, and its replies too
        assert not outside.ping(inside, count=1, timeout=0.5).ok  # started outside: dropped at R
        inside.popen("python3 -m http.server 8080").wait_listening(8080)
        assert outside.run("curl -s -o /dev/null -w '%{http_code}' http://10.0.2.1/").stdout == "200"  # DNAT
        rules = r.firewall_rules()
        rows = {(row[0], row[3], row[5], row[6]): row for row in rules.rows}
        assert rows[("FORWARD", "policy DROP", "", "")][1] == "1"  # the outside's ping
        assert rows[("FORWARD", "ACCEPT", "eth0", "eth1")][1] == "1"  # inside's ping; the rest was ESTABLISHED
        nat = r.firewall_rules("nat")
        assert any(row[3] == "DNAT" and row[1] == "1" and "to:10.0.1.2:8080" in row[9] for row in nat.rows)
        r.firewall("-A FORWARD -i eth1 -p icmp -j ACCEPT")  # live: applied at once
        assert outside.ping(inside, count=1).ok
        with pytest.raises(netnb.TopologyError, match="'R' does not have"):
            r.firewall("-A FORWARD -i eth9 -j ACCEPT")  # refused, and not added
        assert "eth9" not in r.run("iptables -S").stdout and "eth9" not in lab.plan().script()
    assert "<table" in rules.html() and "FORWARD" in rules.text()


@pytest.mark.parametrize("line, message", [
    ("-I FORWARD 1 -j DROP", "describe a firewall with -P CHAIN ACCEPT|DROP, -N CHAIN or -A CHAIN"),
    ("-P LOGGED DROP", "only built-in chains have a policy"),
    ("-P FORWARD REJECT", "a policy is ACCEPT or DROP"),
    ("-t nut -A FORWARD -j DROP", "table 'nut' does not exist"),
    ("-A FORWARD -s '10.0.0.1", "a quote is not closed"),
])
def test_lines_that_describe_no_firewall_are_refused_with_what_to_write(line, message):
    lab = netnb.Lab("bad-fw", backend="sim")
    with pytest.raises(netnb.UsageError, match="node 'R'") as caught:
        lab.router("R").firewall(line)
    assert message in str(caught.value)
    assert not lab["R"].spec.rules and not lab["R"].spec.chains  # nothing was half-added


def test_rules_the_model_cannot_build_are_reported_with_the_rest():
    lab = firewalled("fw-check")
    lab["R"].firewall("-A FORWARD -j NOWHERE", "-A NOCHAIN -j ACCEPT")
    problems = "\n".join(lab.validate())
    assert "jumps to 'NOWHERE'" in problems and "chain 'NOCHAIN' is not in table 'filter'" in problems


def test_lab_files_have_firewall_sections(monkeypatch):
    monkeypatch.setenv("NETNB_BACKEND", "sim")
    with open("examples/firewall.yaml") as f:
        text = f.read()
    lab = load_text(text)
    assert [r.args for r in lab["R"].spec.rules][:1] == [("-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED",
                                                          "-j", "ACCEPT")]
    with lab:
        assert lab["inside"].ping(lab["outside"], count=1).ok
        assert not lab["outside"].ping(lab["inside"], count=1, timeout=0.5).ok
        assert lab.startup_results[0].stdout == "inside is up\n"
    with pytest.raises(netnb.TopologyError) as caught:
        load_text(text.replace("-A FORWARD -i eth0 -o eth1 -j ACCEPT", "-I FORWARD -j ACCEPT\n    -A FORWARD -o eth7 -j ACCEPT"))
    problems = str(caught.value)
    assert "line 20: node 'R': '-I FORWARD -j ACCEPT': describe a firewall with" in problems
    assert "line 21: node 'R': rule '-t filter -A FORWARD -o eth7 -j ACCEPT' names interface 'eth7'" in problems
