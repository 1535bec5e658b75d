"""The package type-checks: public signatures are typed, and mypy agrees with every call inside."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_mypy_finds_no_errors_in_netnb():
    pytest.importorskip("mypy", reason="mypy comes with the test extras (pip install -e '.[test]')")
    proc = subprocess.run([sys.executable, "-m", "mypy", "netnb"], cwd=REPO, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success" in proc.stdout
