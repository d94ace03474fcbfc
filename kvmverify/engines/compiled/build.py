"""Compiling the generated C with the system's compiler, and the cache of compiled checkers.

The compiler is `$CC` when set (a command, possibly with flags: `CC="clang -march=native"`), else the first of
cc, gcc, clang on PATH. gcc and clang compile with -O2 and threads. tcc compiles in milliseconds, but it has
miscompiled generated checkers (TCC_REFUSED): only the differential tests use it, for their thousands of small
models, and they confirm every disagreement with the system compiler.

Checkers are cached under $XDG_CACHE_HOME/kvmverify/compiled (~/.cache/kvmverify/compiled), named by a hash of
the generated code, the runtime's source, the compiler's identity (its path and what `--version` says) and the
flags: a second run of the same model does not compile. A checker is built in a private temporary directory and
renamed into place, so concurrent runs never see half a file; the least recently used entries beyond
CACHE_ENTRIES are removed.
"""
from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RUNTIME = Path(__file__).parent / "runtime"
RUNTIME_FILES = ("kv_runtime.h", "kv_search.c")
CACHE_ENTRIES = 400
SEARCHED = ("cc", "gcc", "clang")


class NoCompiler(Exception):
    """No C compiler could be found; the message says where kvmverify looked."""


class BuildError(Exception):
    """The compiler refused the generated code (a bug in kvmverify's generator) or could not run."""


@dataclass(frozen=True)
class Compiler:
    argv: tuple[str, ...]  # the program (resolved) and the flags $CC gave
    identity: str  # what --version says: part of the cache key
    kind: str  # gcc | clang | tcc | cc

    @property
    def threads(self) -> bool:
        return self.kind != "tcc"

    def flags(self) -> list[str]:
        if self.kind == "tcc":
            return ["-w"]
        return ["-O2", "-pthread", "-std=gnu11", "-w"]

    @property
    def name(self) -> str:
        return os.path.basename(self.argv[0])


_IDENTITIES: dict[tuple[str, float], str] = {}


def _identity(path: str) -> str:
    key = (path, os.path.getmtime(path))
    if key not in _IDENTITIES:
        out = ""
        for flag in ("--version", "-v"):
            try:
                r = subprocess.run([path, flag], capture_output=True, text=True, timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                continue
            out = (r.stdout or r.stderr).strip()
            if out:
                break
        _IDENTITIES[key] = out.splitlines()[0] if out else os.path.basename(path)
    return _IDENTITIES[key]


def _kind(path: str, identity: str) -> str:
    text = (os.path.basename(path) + " " + identity).lower()
    for kind in ("tcc", "clang", "gcc"):
        if kind in text:
            return kind
    return "cc"


# tcc 0.9.27 (Debian's) miscompiles some generated checkers: `if ((x < 0) || (0 && ((!((x < 3) && 1)) ? 1 : 1)))`
# is taken at x = 0, and without its `(x < 0) ||` the code after the `if` is skipped (campaign seeds 7141431,
# 7143321, 7144080, 7145238: a cover "reached" in a state where it is not); it miscompiled SPIN's pan.c too.
# A wrong "holds" would not be caught by replaying traces, so a verdict is never taken from a tcc-built checker;
# the differential test (allow_tcc) uses tcc for speed and confirms every disagreement with the system
# compiler's build.
TCC_REFUSED = ("tcc miscompiles some checkers kvmverify generates (tcc 0.9.27: 4 of 5,000 generated models in the "
               "differential test); set CC to gcc or clang")


def find_compiler(environ=None, allow_tcc: bool = False) -> Compiler:
    """The C compiler to use; NoCompiler if there is none (tcc counts as none unless `allow_tcc`)."""
    env = os.environ if environ is None else environ
    cc = env.get("CC", "").strip()
    if cc:
        words = shlex.split(cc)
        path = shutil.which(words[0], path=env.get("PATH"))
        if path is None:
            raise NoCompiler(f"CC={cc!r} names no program on PATH")
        ident = _identity(path)
        compiler = Compiler((path, *words[1:]), ident, _kind(path, ident))
        if compiler.kind == "tcc" and not allow_tcc:
            raise NoCompiler(f"CC={cc!r}: {TCC_REFUSED}")
        return compiler
    for name in SEARCHED:
        path = shutil.which(name, path=env.get("PATH"))
        if path is not None:
            ident = _identity(path)
            if _kind(path, ident) == "tcc" and not allow_tcc:
                continue  # cc may be tcc: the next one on the list
            return Compiler((path,), ident, _kind(path, ident))
    raise NoCompiler(f"no C compiler on PATH (looked for {', '.join(SEARCHED)}; set CC to name one)")


def cache_dir(environ=None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kvmverify" / "compiled"


def runtime_text() -> str:
    return "".join((RUNTIME / f).read_text() for f in RUNTIME_FILES)


def cache_key(source: str, compiler: Compiler) -> str:
    h = hashlib.sha256()
    for part in (source, runtime_text(), "\0".join(compiler.argv), compiler.identity, " ".join(compiler.flags())):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:40]


@dataclass(frozen=True)
class Built:
    path: Path
    compiled: bool  # False: found in the cache
    seconds: float  # compile time (0 for a cache hit)


def build(source: str, compiler: Compiler, timeout: float | None = None, environ=None) -> Built:
    """The checker for `source`, from the cache or compiled now."""
    root = cache_dir(environ)
    exe = root / cache_key(source, compiler)
    if exe.is_file() and os.access(exe, os.X_OK):
        try:
            os.utime(exe)  # recently used: kept by the pruning below
        except OSError:
            pass
        return Built(exe, False, 0.0)
    try:
        root.mkdir(parents=True, exist_ok=True)
        if not os.access(root, os.W_OK | os.X_OK):
            raise PermissionError(str(root))
    except OSError:  # a read-only home: a cache of this user's in the temporary directory instead
        root = Path(tempfile.gettempdir()) / f"kvmverify-cache-{os.getuid() if hasattr(os, 'getuid') else 0}"
        root.mkdir(parents=True, exist_ok=True)
        exe = root / exe.name
        if exe.is_file() and os.access(exe, os.X_OK):
            return Built(exe, False, 0.0)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=root, prefix=".build-") as work:
        src = Path(work) / "model.c"
        src.write_text(source)
        out = Path(work) / "checker"
        cmd = [*compiler.argv, *compiler.flags(), "-I", str(RUNTIME), "-o", str(out), str(src)]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=work)
        except subprocess.TimeoutExpired:
            raise BuildError(f"{compiler.name} took longer than {timeout:.0f} s") from None
        except OSError as e:
            raise BuildError(f"{compiler.name} could not run: {e}") from None
        if r.returncode != 0 or not out.is_file():
            raise BuildError(f"{shlex.join(cmd)} failed ({r.returncode}):\n{(r.stderr or r.stdout)[-3000:]}")
        os.replace(out, exe)  # atomic: a concurrent run sees the whole checker or none
    _prune(root)
    return Built(exe, True, time.monotonic() - started)


def _prune(root: Path) -> None:
    try:
        entries = [p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")]
        if len(entries) <= CACHE_ENTRIES:
            return
        entries.sort(key=lambda p: p.stat().st_mtime)
        for p in entries[:len(entries) - CACHE_ENTRIES]:
            p.unlink(missing_ok=True)
    except OSError:  # another run pruned at the same time
        pass
