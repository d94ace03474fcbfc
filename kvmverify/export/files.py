"""Writing export files: atomically (temp file + os.replace), with stable names derived from model and property."""
from __future__ import annotations

import errno
import os
import re
import stat
import tempfile

from ..diagnostics import NO_SPAN, Diagnostic, DiagnosticError


KV_OUTPUT_KIND = "KV505"  # an output path names the wrong kind of file (a directory for a report, a file for --out)
KV_OUTPUT_FAILED = "KV506"  # an output file cannot be written (permissions, a path through a file, a full device)


def _out_error(code: str, path: str, message: str, hint: str | None = None) -> DiagnosticError:
    return DiagnosticError([Diagnostic(code, "error", f"{path}: {message}", NO_SPAN, hint)])


REFUSED_HINT = "kvmverify writes reports to regular files, character devices (/dev/null) and FIFOs only"


def _refused(st: os.stat_result) -> str | None:
    """What kind of file a report must never be written into (a disk, a socket), or None."""
    if stat.S_ISBLK(st.st_mode):
        return "block device"
    if stat.S_ISSOCK(st.st_mode):
        return "socket"
    return None


def check_output_file(path: str, flag: str) -> None:
    """Refuse, before any search runs, a report path that cannot become a file (KV505/KV506)."""
    if os.path.isdir(path):
        raise _out_error(KV_OUTPUT_KIND, path, f"{flag} names a directory", f"give a file name, e.g. {flag} "
                         f"{os.path.join(path, 'kvmverify' + ('.xml' if 'junit' in flag else '.c' if 'dump' in flag else '.sarif'))}")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise _out_error(KV_OUTPUT_FAILED, path, f"cannot write {flag}: {_why(e)}")
    if st is not None and _refused(st):
        raise _out_error(KV_OUTPUT_KIND, path, f"{flag} names a {_refused(st)}", REFUSED_HINT)
    parent = os.path.dirname(os.path.abspath(os.path.realpath(path)))
    _make_dirs(parent, flag)


def check_output_dir(path: str, flag: str = "--out") -> None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise _out_error(KV_OUTPUT_KIND, path, f"{flag} names an existing file, not a directory",
                         f"{flag} DIR receives one file per counterexample; give a directory")
    _make_dirs(path, flag)


def _make_dirs(directory: str, flag: str) -> None:
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise _out_error(KV_OUTPUT_FAILED, directory, f"cannot create the directory for {flag}: {_why(e)}")
    if not os.access(directory, os.W_OK):
        raise _out_error(KV_OUTPUT_FAILED, directory, f"the directory for {flag} is not writable")


def write_atomic(path: str, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the whole new one, never a part.

    A regular file (or a new one) is replaced by renaming a complete temporary file over it; a symlink is
    resolved first, so the link stays and what it points to is replaced. Anything else is never replaced: a
    character device or a FIFO (`/dev/null`, `/dev/stdout`, a pipe from `>(...)`) is written through, a
    directory, block device or socket is refused. Failures are diagnostics (KV505, KV506), never tracebacks."""
    try:
        st = os.stat(path)  # follows links, as the kernel will
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise _out_error(KV_OUTPUT_FAILED, path, f"cannot write: {_why(e)}")
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise _out_error(KV_OUTPUT_KIND, path, "is a directory, not a file")
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_through(path, text, st)
        return
    target = os.path.realpath(path)  # a symlink (or a chain of them): replace the file, keep the link
    directory = os.path.dirname(target)
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".kvmverify-", suffix=".tmp", dir=directory)
    except OSError as e:
        raise _out_error(KV_OUTPUT_FAILED, path, f"cannot write: {_why(e)}")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a report is as readable as any other file
        os.replace(tmp, target)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise _out_error(KV_OUTPUT_FAILED, path, f"cannot write: {_why(e)}") from None
        raise


def _write_through(path: str, text: str, st: os.stat_result) -> None:
    """A device or FIFO: write into it (never create, truncate or rename)."""
    if _refused(st):
        raise _out_error(KV_OUTPUT_KIND, path, f"is a {_refused(st)}", REFUSED_HINT)
    fifo = stat.S_ISFIFO(st.st_mode)
    try:
        # a FIFO nobody reads would block the open for ever: O_NONBLOCK makes that an error (ENXIO) instead
        fd = os.open(path, os.O_WRONLY | (os.O_NONBLOCK if fifo else 0))
    except OSError as e:
        why = "no process is reading the FIFO" if e.errno == errno.ENXIO else _why(e)
        raise _out_error(KV_OUTPUT_FAILED, path, f"cannot write: {why}")
    try:
        if fifo:
            os.set_blocking(fd, True)
        data = text.encode("utf-8")
        while data:
            data = data[os.write(fd, data):]
    except OSError as e:
        raise _out_error(KV_OUTPUT_FAILED, path, f"cannot write: {_why(e)}") from None
    finally:
        os.close(fd)


def append_text(path: str, text: str) -> None:
    """Append to a file others write too (GitHub's $GITHUB_STEP_SUMMARY: each step's tools append to it)."""
    try:
        with open(path, "a", encoding="utf-8", newline="\n") as f:
            f.write(text)
    except OSError as e:
        raise _out_error(KV_OUTPUT_FAILED, path, f"cannot append the job summary: {_why(e)}") from None


def _why(e: OSError) -> str:
    return e.strerror or str(e)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def safe_name(text: str) -> str:
    """A file-name-safe form of a property name: `slot:area.token` -> `slot_area.token`."""
    out = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._")
    return out or "property"


class NameAllocator:
    """Distinct, deterministic file names within one run: `a.itf.json`, then `a-2.itf.json`, ..."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, stem: str, suffix: str) -> str:
        name, n = f"{stem}{suffix}", 1
        while name in self.used:
            n += 1
            name = f"{stem}-{n}{suffix}"
        self.used.add(name)
        return name


def trace_stem(model_path: str, prop_name: str) -> str:
    base = os.path.basename(model_path)
    if base.endswith(".kv"):
        base = base[:-3]
    return f"{safe_name(base)}.{safe_name(prop_name)}"
