"""The public API: curated, loaded on demand, every name documented."""

from __future__ import annotations

import subprocess
import sys

import netnb


def test_all_names_resolve_and_have_docstrings():
    import netnb.model

    assert set(netnb.__all__) == set(netnb._WHERE)
    assert set(netnb.model.__all__) == set(netnb.model._WHERE)
    assert all(getattr(netnb.model, name) is not None for name in netnb.model.__all__)
    for name in netnb.__all__:
        obj = getattr(netnb, name)
        assert obj.__doc__, name


def test_the_agent_spawner_does_not_load_notebook_only_modules():
    code = ("import sys, netnb.backends.kernel.spawner as s\n"
            "s._preload(); s._preload(s.READ_BACK_MODULES)\n"
            "print(sorted(m for m in ('netnb.lab', 'matplotlib', 'scapy', 'networkx', 'ipywidgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
