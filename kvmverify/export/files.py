"""Writing export files: atomically (temp file + os.replace), with stable names derived from model and property."""
from __future__ import annotations

import os
import re
import tempfile


def write_atomic(path: str, text: str) -> None:
    """Write `text` to `path` so that readers see the old file or the whole new one, never a part."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".kvmverify-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a report is as readable as any other file
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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
