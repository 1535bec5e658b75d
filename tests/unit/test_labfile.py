"""Lab files: YAML in, the same Lab as code out; every problem of the file reported together."""

from __future__ import annotations

import pytest

from netnb.errors import TopologyError
from netnb.labfile import load_text

from ..labs import three_pcs


def test_file_and_code_give_the_same_plan():
    lab = load_text("""
name: three-pcs
nodes: {A: host, B: host, C: host, sw: switch}
links:
  - {a: A, b: sw, ip: 10.0.0.1/24}
  - {a: B, b: sw, ip: 10.0.0.2/24}
  - {a: C, b: sw, ip: 10.0.0.3/24}
""")
    assert lab.plan().script() == three_pcs().plan().script()


def test_switch_options_pairs_and_automatic_addresses():
    lab = load_text("""
name: auto
nodes:
  lan: {kind: switch, subnet: 10.1.0.0/24, ageing: 0}
  h1: host
  h2: host
links: [[h1, lan], [h2, lan]]
""")
    assert [str(a) for a in lab["h2"].addresses] == ["10.1.0.2/24"]
    assert lab.resolved().node("lan").bridge.ageing_cs == 0


def test_every_problem_of_a_file_is_reported_together():
    with pytest.raises(TopologyError) as info:
        load_text("""
name: bad
colour: blue
nodes: {A: host, R: toaster, sw: {kind: switch, speed: 10}}
links:
  - [A, sw]
  - {a: A, b: ghost, vlan: 5}
  - just-a-string
routes:
  nobody: [{dest: default, via: 10.0.0.1}]
""")
    text = "\\n".join(info.value.problems)
    for fragment in ("colour", "toaster", "speed", "vlan", "write [A, B]", "nobody"):
        assert fragment in text, fragment


def test_not_yaml_at_all():
    with pytest.raises(TopologyError, match="not valid YAML"):
        load_text("nodes: [unclosed")
