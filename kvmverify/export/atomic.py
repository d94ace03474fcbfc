"""Output files are written whole or not at all: a temporary file in the same directory, then an atomic rename.
An interrupted or failed run leaves the previous file (or none), never a half-written trace."""
from __future__ import annotations

import os
import tempfile
from typing import Callable, TextIO


def write_atomic(path: str, write: Callable[[TextIO], None] | str) -> None:
    """Write `path` with `write(file)` (or the given text); on any exception the old file stays untouched."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            if isinstance(write, str):
                f.write(write)
            else:
                write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
