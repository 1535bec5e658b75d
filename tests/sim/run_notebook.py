"""Run a tutorial's cells in this process on the simulated backend, in an interpreter that may not make
network namespaces, open netlink or packet sockets, or start processes (an audit hook refuses them).

    python tests/sim/run_notebook.py notebooks/03-bridge.py [--solve] [--kernel] [--record OUT.json]

Exit status 0 when every cell ran (each cell's last expression is rendered as Jupyter would); otherwise the
failing cell, its source and the traceback on stderr. ``--record`` keeps what each cell printed and showed
(text/plain); ``--kernel`` runs the same on the kernel backend (no audit hook then), so that the two can be
compared (tests/sim/test_differential.py). Used by tests/sim/test_tutorials.py.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import json
import os
import socket
import sys
import time
import traceback

FORBIDDEN_EVENTS = {"os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "os.startfile",
                    "subprocess.Popen", "os.unshare", "os.setns", "pty.spawn"}
FORBIDDEN_FAMILIES = {getattr(socket, "AF_NETLINK", 16), getattr(socket, "AF_PACKET", 17)}
FORBIDDEN_PATHS = ("/proc/self/ns", "/proc/thread-self/ns", "/run/netns", "/var/run/netns", "/dev/net/tun")
refused: list[str] = []


def audit(event: str, args: tuple) -> None:
    why = None
    if event in FORBIDDEN_EVENTS:
        why = f"{event} (starting a process)"
    elif event == "socket.__new__" and args and args[1] in FORBIDDEN_FAMILIES:
        why = f"a socket of family {args[1]} (netlink or packet)"
    elif event == "ctypes.dlsym" and len(args) > 1 and str(args[1]) in ("unshare", "setns", "clone", "fork"):
        why = f"the C function {args[1]} (namespaces)"
    elif event == "open" and args and isinstance(args[0], str) and args[0].startswith(FORBIDDEN_PATHS):
        why = f"opening {args[0]}"
    elif event == "open" and args and isinstance(args[0], str) and "/ns/" in args[0] and args[0].startswith("/proc/"):
        why = f"opening {args[0]}"
    if why is not None:
        refused.append(why)
        raise PermissionError(f"the simulation may not use {why}")


def main() -> int:
    path = sys.argv[1]
    kernel = "--kernel" in sys.argv
    record = sys.argv[sys.argv.index("--record") + 1] if "--record" in sys.argv else None
    os.environ["NETNB_BACKEND"] = "kernel" if kernel else "sim"
    # scapy lists the machine's own interfaces through netlink when it is imported on Linux (not under
    # Pyodide, where it has no Linux layer): a library's look at the host, read-only, done before the hook.
    import scapy.all  # noqa: F401
    import jupytext  # (the harness's own reader probes for pandoc with a process when imported)

    if not kernel:
        sys.addaudithook(audit)

    nb = jupytext.read(path)
    namespace: dict[str, object] = {"__name__": "__main__", "display": lambda *a, **k: None}
    os.chdir(os.path.dirname(os.path.abspath(path)))
    started = time.monotonic()
    shown: list[dict[str, object]] = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or cell.source.lstrip().startswith(("%", "!")):
            continue
        source = cell.source.replace("SOLVE = False", "SOLVE = True") if "--solve" in sys.argv else cell.source
        printed = io.StringIO()
        try:
            tree = ast.parse(source)
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            with contextlib.redirect_stdout(printed):
                # top-level await, as IPython allows (the set-up cell awaits piplite in JupyterLite)
                ran = eval(compile(tree, f"<cell {i}>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT), namespace)
                if inspect.iscoroutine(ran):
                    asyncio.run(ran)
                value = eval(compile(ast.Expression(last.value), f"<cell {i}>", "eval"), namespace) \
                    if last is not None else None
            text = None
            bundle = getattr(value, "_repr_mimebundle_", None)
            if bundle is not None:
                mimes = bundle()
                assert "text/plain" in mimes, f"cell {i}: {type(value).__name__} shows no text/plain"
                text = mimes["text/plain"]
            elif value is not None:
                text = repr(value)
            shown.append({"cell": i, "stdout": printed.getvalue(), "text": text})
            sys.stdout.write(printed.getvalue())
        except BaseException:
            sys.stderr.write(f"{os.path.basename(path)}: cell {i} raised\n--- cell source\n{source}\n---\n")
            traceback.print_exc()
            if refused:
                sys.stderr.write(f"refused by the audit hook: {refused}\n")
            return 1
    if record:
        with open(record, "w") as f:
            json.dump(shown, f, indent=1)
    if refused:  # even if something caught the refusal and went on
        sys.stderr.write(f"{os.path.basename(path)}: the audit hook refused {refused}\n")
        return 1
    if kernel:
        print(f"{os.path.basename(path)}: every cell ran on the kernel in {time.monotonic() - started:.1f} s")
        return 0
    print(f"{os.path.basename(path)}: every cell ran on the simulation in {time.monotonic() - started:.1f} s, "
          "with no namespace, netlink or packet socket, or process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
