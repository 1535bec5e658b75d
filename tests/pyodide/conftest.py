# tests/pyodide/lab.py runs inside Pyodide (test_pyodide.py starts it), not under pytest.
collect_ignore = ["lab.py"]
