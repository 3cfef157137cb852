"""Atomic file output: write to a temporary name beside the target, then rename.

A reader never sees a half-written file, and a crash, a full disk or ``kill -9`` leaves
the previous good file (if any) in place.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from models.errors import InputError


def check_output_dir(path: str | Path) -> Path:
    """Raise :class:`InputError` unless ``path``'s directory exists and is writable."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{path}: output directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{path}: output directory {parent} is not writable")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in ``path``'s directory; on success rename it to ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched. The
    temporary name keeps ``path``'s suffix so writers that infer a format still work.
    """
    path = check_output_dir(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}",
                                    dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # disk full, quota, I/O error: the user's to fix, not a bug
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: could not write the file ({exc.strerror or exc}); nothing "
                         f"was written and any previous {path.name} is unchanged") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
