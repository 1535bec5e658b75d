"""The commands a simulated node runs: a small ``sh`` (lists with ``;``, ``&&``, ``||``, pipes, quoting,
``> /dev/null`` and ``2>&1``, ``sh -c`` with positional parameters) and a registry of programs.

Written by hand: there is no shell in Pyodide, and each program here acts on the simulated stack of its
node (``ip``, ``ping``...) instead of a kernel. A command that is not here fails with status 127 and says
it needs a real kernel, the way ``sh`` says "not found".

>>> parse("a -x 'b c' && d | e; f")
[[[['a', '-x', 'b c']], '&&'], [[['d'], ['e']], ';'], [[['f']], '']]
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netnb.backends.sim.clock import Sleep, Until

if TYPE_CHECKING:
    from netnb.backends.sim.world import Stack, World

Wait = Sleep | Until
Run = Generator[Wait, None, int]


@dataclass
class View:
    """What a process and its children see of the system beyond the network: its hostname (a UTS namespace)
    and files bound over others (a mount namespace). ``unshare`` gives a process a copy of its own."""

    hostname: str | None = None
    binds: dict[str, str] = field(default_factory=dict)  # path seen -> file that is there

    def copy(self) -> View:
        return View(self.hostname, dict(self.binds))


@dataclass
class Ctx:
    """What a running program sees: its node, arguments, input and output, and its view of files."""

    world: World
    stack: Stack
    argv: list[str]
    stdin: str = ""
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    view: View = field(default_factory=View)
    #: Set by the backend: receives what a background program prints, as it prints it.
    live: Callable[[str], None] | None = None
    #: Shared by a process and its children: what the backend may ask of a running program
    #: (``"serve"``: a VM guest's request handler, see SimBackend.request).
    shared: dict[str, Any] = field(default_factory=dict)

    def print(self, text: str = "") -> None:
        self.write(text + "\n")

    def write(self, text: str) -> None:
        self.out.append(text)
        if self.live is not None:
            self.live(text)

    def error(self, text: str) -> None:
        self.err.append(text + "\n")
        if self.live is not None:
            self.live(text + "\n")

    def child(self, argv: list[str], stdin: str = "") -> Ctx:
        return Ctx(self.world, self.stack, argv, stdin, [], [], self.view, self.live, self.shared)

    def read_file(self, path: str) -> str | None:
        """A file as this process sees it: what is bound there (a file of the lab's own folder), else the few
        of /proc and /etc the simulation makes. Never a file of the machine."""
        bound = self.view.binds.get(path)
        if bound is not None:
            path = bound
            folder = self.world.folder
            if folder and os.path.realpath(bound).startswith(os.path.realpath(folder) + os.sep):
                try:
                    with open(bound, encoding="utf-8") as f:
                        return f.read()
                except OSError:
                    return None
        own = self.stack.files.get(path)
        if own is not None:
            return own.decode(errors="replace")
        return self.stack.world_files().get(path)

    def put_file(self, path: str, text: str, append: bool = False) -> None:
        """Write (or append to) a file of this node's own (a redirection); ``/dev/null`` takes anything."""
        if path == "/dev/null":
            return
        if not path.startswith("/"):
            self.error(f"sh: {path}: the simulation writes files by absolute path only")
            return
        old = (self.read_file(path) or "") if append else ""
        self.stack.write_file(path, (old + text).encode(), 0o644)


Program = Callable[[Ctx], Run]
PROGRAMS: dict[str, Program] = {}


def program(*names: str) -> Callable[[Program], Program]:
    """Register a program under ``names`` (and their ``/usr/bin/``, ``/bin/``, ``/sbin/`` paths)."""
    def wrap(fn: Program) -> Program:
        for name in names:
            for prefix in ("", "/bin/", "/usr/bin/", "/sbin/", "/usr/sbin/"):
                PROGRAMS[prefix + name] = fn
        return fn
    return wrap


class ShellSyntaxError(ValueError):
    """A command line this small shell cannot read."""


_OPS = {";", "&&", "||", "|", "&"}


def tokens(line: str) -> list[str]:
    """Words and operators of a command line, quotes removed (``2>&1`` and ``>`` kept as words)."""
    lex = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lex.whitespace_split = True
    lex.commenters = ""
    try:
        return list(lex)
    except ValueError as exc:
        raise ShellSyntaxError(f"sh: {exc}") from exc


def parse(line: str) -> list[list]:
    """``[[pipeline, separator], ...]``, a pipeline being a list of argv lists."""
    out: list[list] = []
    pipeline: list[list[str]] = []
    words: list[str] = []
    for tok in tokens(line):
        if tok in _OPS or tok in (";;",):
            if tok == "|":
                if not words:
                    raise ShellSyntaxError("sh: syntax error near unexpected token `|'")
                pipeline.append(words)
                words = []
                continue
            if tok == "&":
                raise ShellSyntaxError("sh: '&' (a background job) is not supported here: use node.popen(...)")
            if words:
                pipeline.append(words)
            if not pipeline:
                raise ShellSyntaxError(f"sh: syntax error near unexpected token `{tok}'")
            out.append([pipeline, tok])
            pipeline, words = [], []
        else:
            words.append(tok)
    if words:
        pipeline.append(words)
    if pipeline:
        out.append([pipeline, ""])
    return out


def run_line(ctx: Ctx, line: str, positional: list[str] | None = None) -> Run:
    """Run a shell line: its status is the last command's."""
    try:
        parsed = parse(line)
    except ShellSyntaxError as exc:
        ctx.error(str(exc))
        return 2
    rc = 0
    skip = None
    args = list(positional or [])
    for pipeline, sep in parsed:
        if skip is None or (skip == "&&" and rc == 0) or (skip == "||" and rc != 0):
            expanded = [_expand(argv, args, rc) for argv in pipeline]
            if expanded and expanded[0][:1] == ["shift"]:
                count = int(expanded[0][1]) if len(expanded[0]) > 1 else 1
                args = args[count:]
                rc = 0
            elif expanded and expanded[0][:1] == ["exec"]:
                expanded[0] = expanded[0][1:]
                rc = yield from run_pipeline(ctx, expanded)
                return rc
            else:
                rc = yield from run_pipeline(ctx, expanded)
        skip = sep if sep in ("&&", "||") else None
    return rc


def _expand(argv: list[str], args: list[str], status: int = 0) -> list[str]:
    out: list[str] = []
    for word in argv:
        if "$?" in word:
            word = word.replace("$?", str(status))
        if word in ("$@", "$*"):
            out.extend(args)
        elif len(word) == 2 and word[0] == "$" and word[1].isdigit():
            i = int(word[1])
            if i >= 1:
                out.append(args[i - 1] if i <= len(args) else "")
        elif word == "$#":
            out.append(str(len(args)))
        else:
            out.append(word)
    return out


def run_pipeline(ctx: Ctx, pipeline: list[list[str]]) -> Run:
    """Each command's output is the next one's input (they run one after another: none of these programs
    needs to see its input before it ends)."""
    data = ctx.stdin
    rc = 0
    for i, argv in enumerate(pipeline):
        r = _redirections(argv)
        child = ctx.child(r.words, data)
        last = i == len(pipeline) - 1
        child.live = ctx.live if last and r.out is None else None
        rc = yield from run_argv(child)
        out = "".join(child.out)
        err = "".join(child.err)
        if r.err_to_out:
            out += err
            err = ""
        if r.err is not None:
            ctx.put_file(r.err[0], err, r.err[1])
        elif err:
            ctx.err.append(err)
        if r.out is not None:
            ctx.put_file(r.out[0], out, r.out[1])
            data = ""
        elif last:
            ctx.out.append(out)
        else:
            data = out
    return rc


@dataclass
class _Redirected:
    words: list[str]
    out: tuple[str, bool] | None = None  # (path, append)
    err: tuple[str, bool] | None = None
    err_to_out: bool = False


def _redirections(argv: list[str]) -> _Redirected:
    """``> FILE``, ``>> FILE``, ``2> FILE`` (also written without the space), ``2>&1``."""
    r = _Redirected([])
    i = 0
    while i < len(argv):
        w = argv[i]
        if w == "2>&1":
            r.err_to_out = True
            i += 1
            continue
        for op, stream in ((">>", "out"), ("1>>", "out"), ("2>>", "err"), (">", "out"), ("1>", "out"), ("2>", "err")):
            if w.startswith(op) and not w.startswith(op + ">"):
                path = w[len(op):]
                if not path and i + 1 < len(argv):
                    i += 1
                    path = argv[i]
                setattr(r, stream, (path, op.endswith(">>")))
                break
        else:
            r.words.append(w)
        i += 1
    return r


def run_argv(ctx: Ctx) -> Run:
    """Run one program by its argv[0]."""
    if not ctx.argv:
        return 0
    name = ctx.argv[0]
    fn = PROGRAMS.get(name)
    if fn is None:
        ctx.error(f"sh: 1: {name}: not found (the simulated backend runs ip, bridge, iptables, ping, "
                  f"traceroute, curl, nc, python3 -m http.server and a few shell tools; {name} needs a real "
                  "kernel: Lab(..., backend='kernel'))")
        return 127
    return (yield from fn(ctx))


# -- the shell and its simplest tools ----------------------------------------------------------------------
@program("sh", "bash", "dash")
def _sh(ctx: Ctx) -> Run:
    args = ctx.argv[1:]
    if args[:1] == ["-c"] and len(args) >= 2:
        return (yield from run_line(ctx, args[1], args[3:]))
    ctx.error(f"sh: only `sh -c 'COMMANDS'` runs here, not {shlex.join(ctx.argv)!r}")
    return 2


@program("true", ":")
def _true(ctx: Ctx) -> Run:
    return 0
    yield  # (a generator)


@program("false")
def _false(ctx: Ctx) -> Run:
    return 1
    yield


@program("echo")
def _echo(ctx: Ctx) -> Run:
    args = ctx.argv[1:]
    newline = True
    if args[:1] == ["-n"]:
        newline, args = False, args[1:]
    ctx.write(" ".join(args) + ("\n" if newline else ""))
    return 0
    yield


@program("sleep")
def _sleep(ctx: Ctx) -> Run:
    arg = ctx.argv[1] if len(ctx.argv) > 1 else ""
    if arg == "infinity":
        yield Until(lambda: False)
        return 0
    try:
        seconds = float(arg.rstrip("s"))
    except ValueError:
        ctx.error(f"sleep: invalid time interval '{arg}'")
        return 1
    yield Sleep(seconds)
    return 0


@program("cat")
def _cat(ctx: Ctx) -> Run:
    rc = 0
    if len(ctx.argv) == 1:
        ctx.write(ctx.stdin)
    for path in ctx.argv[1:]:
        text = ctx.read_file(path)
        if text is None:
            ctx.error(f"cat: {path}: No such file or directory")
            rc = 1
        else:
            ctx.write(text)
    return rc
    yield


@program("head")
def _head(ctx: Ctx) -> Run:
    n = 10
    args = ctx.argv[1:]
    while args:
        a = args.pop(0)
        if a == "-n" and args:
            n = int(args.pop(0))
        elif a.startswith("-") and a[1:].isdigit():
            n = int(a[1:])
    lines = ctx.stdin.splitlines(keepends=True)
    ctx.write("".join(lines[:n]))
    return 0
    yield


@program("grep")
def _grep(ctx: Ctx) -> Run:
    import re

    invert = only = False
    count = False
    pattern = None
    for a in ctx.argv[1:]:
        if a.startswith("-") and pattern is None and len(a) > 1:
            invert |= "v" in a
            only |= "o" in a
            count |= "c" in a
        elif pattern is None:
            pattern = a
    if pattern is None:
        ctx.error("Usage: grep [OPTION]... PATTERNS [FILE]...")
        return 2
    rx = re.compile(pattern)
    found = []
    for line in ctx.stdin.splitlines():
        if bool(rx.search(line)) != invert:
            found += [m.group(0) for m in rx.finditer(line)] if only else [line]
    if count:
        ctx.print(str(len(found)))
    elif found:
        ctx.write("".join(f"{line}\n" for line in found))
    return 0 if found else 1
    yield


@program("hostname")
def _hostname(ctx: Ctx) -> Run:
    if len(ctx.argv) > 1:
        ctx.view.hostname = ctx.argv[1]  # in its own UTS namespace (unshare --uts)
        return 0
    ctx.print(ctx.view.hostname or ctx.stack.hostname)
    return 0
    yield


@program("unshare")
def _unshare(ctx: Ctx) -> Run:
    # Mount and UTS namespaces of one process: its hostname and binds stay its own (see Ctx).
    args = ctx.argv[1:]
    while args and args[0].startswith("-"):
        option = args.pop(0)
        if option == "--propagation" and args:
            args.pop(0)
    child = ctx.child(args, ctx.stdin)
    child.view = ctx.view.copy()
    rc = yield from run_argv(child)
    ctx.out += child.out
    ctx.err += child.err
    return rc


@program("mount")
def _mount(ctx: Ctx) -> Run:
    args = [a for a in ctx.argv[1:] if a not in ("--bind", "-o", "bind")]
    if "--bind" not in ctx.argv or len(args) != 2:
        ctx.error("mount: only `mount --bind FILE TARGET` runs in the simulation")
        return 1
    ctx.view.binds[args[1]] = args[0]
    return 0
    yield


@program("ls")
def _ls(ctx: Ctx) -> Run:
    for path in ctx.argv[1:] or ["."]:
        prefix = path.rstrip("/") + "/"
        inside = sorted({p[len(prefix):].split("/")[0] for p in ctx.stack.files if p.startswith(prefix)})
        if path.rstrip("/") == "/sys/class/net":
            ctx.write("".join(f"{name}\n" for name in sorted(ctx.stack.devices)))
        elif path in ctx.stack.files:
            ctx.print(path)
        elif inside:
            ctx.write("".join(f"{name}\n" for name in inside))
        else:
            ctx.error(f"ls: cannot access '{path}': the simulation has no files there (only the node's own)")
            return 2
    return 0
    yield


@program("mkdir")
def _mkdir(ctx: Ctx) -> Run:
    """Folders: the simulation takes every folder to exist, so ``mkdir -p`` has nothing to do."""
    if "-p" not in ctx.argv:
        ctx.error("mkdir: only `mkdir -p` runs in the simulation (every folder exists there)")
        return 1
    return 0
    yield


@program("rm")
def _rm(ctx: Ctx) -> Run:
    force = any(a.startswith("-") and "f" in a for a in ctx.argv[1:])
    rc = 0
    for path in (a for a in ctx.argv[1:] if not a.startswith("-")):
        if ctx.stack.files.pop(path, None) is None and not force:
            ctx.error(f"rm: cannot remove '{path}': No such file or directory")
            rc = 1
    return rc
    yield


@program("tee")
def _tee(ctx: Ctx) -> Run:
    append = "-a" in ctx.argv[1:]
    for path in (a for a in ctx.argv[1:] if not a.startswith("-")):
        ctx.put_file(path, ctx.stdin, append)
    ctx.write(ctx.stdin)
    return 0
    yield
