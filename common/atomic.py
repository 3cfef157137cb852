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

from common.errors import InputError


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


def check_output_folder(path: str | Path, option: str = "--out") -> Path:
    """Raise :class:`InputError` unless ``path`` is a writable directory or can be made one
    (its parent exists and is writable); ``option`` names the argument in messages."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise InputError(f"{option} {out}: exists and is not a directory")
    if not out.parent.is_dir():
        raise InputError(f"{option} {out}: parent directory {out.parent} does not exist")
    writable = out if out.is_dir() else out.parent
    if not os.access(writable, os.W_OK):
        raise InputError(f"{option} {out}: directory {writable} is not writable")
    return out


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
