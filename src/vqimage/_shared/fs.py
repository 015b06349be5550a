"""The one way vqimage writes files: atomically, never clobbering unless asked.

Data goes to a temporary file beside the target (created exclusively, with the process umask),
is flushed and fsynced, then renamed into place; on any error, including KeyboardInterrupt, the
temporary file is removed and the target is untouched. Without ``overwrite`` the final step is a
hard link, which fails if the target appeared meanwhile, so two writers never clobber each
other.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = ["atomic_file", "atomic_write", "temp_path"]

# Filesystems without hard links: fall back to a rename after a fresh existence check.
_NO_LINK = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


def _exists_error(path: Path) -> FileExistsError:
    return FileExistsError(errno.EEXIST, "File exists", str(path))


def temp_path(path: str | os.PathLike[str]) -> Path:
    """A fresh hidden name beside ``path`` that keeps its suffix (writers pick formats by it)."""
    p = Path(path)
    return p.with_name(f".{p.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{p.suffix}")


def _open_exclusive(path: Path) -> IO[bytes]:
    # "x": never reuse a stranger's file; the mode is 0o666 less the umask, like any new file.
    return open(path, "xb")


def _check_target(target: Path, overwrite: bool) -> None:
    if target.is_dir():
        raise IsADirectoryError(
            errno.EISDIR, "is a directory; give a file path to write to", str(target)
        )
    if not overwrite and (target.exists() or target.is_symlink()):
        raise _exists_error(target)
    parent = target.parent
    if not parent.is_dir():
        if parent.exists():
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(parent))
        raise FileNotFoundError(errno.ENOENT, "No such directory", str(parent))


def _commit(tmp: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise _exists_error(target) from None
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        if target.exists():
            raise _exists_error(target) from None
        os.replace(tmp, target)


@contextmanager
def atomic_file(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[IO[bytes]]:
    """Context manager: a binary file object whose content becomes ``path`` only on success.

    Raises ``FileExistsError`` (``errno.EEXIST``, with the path as ``filename``) when ``path``
    exists and ``overwrite`` is false, before anything is written or after, if another writer
    got there first.
    """
    target = Path(path)
    _check_target(target, overwrite)
    tmp = temp_path(target)
    try:
        with _open_exclusive(tmp) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _commit(tmp, target, overwrite)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes | str | Callable[[IO[bytes]], object],
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``data`` (bytes, UTF-8 text, or a function of the open binary file) atomically.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> atomic_write(p, "hello").read_text()
    'hello'
    >>> atomic_write(p, b"again")
    Traceback (most recent call last):
    ...
    FileExistsError: [Errno 17] File exists: '...a.txt'
    """
    with atomic_file(path, overwrite=overwrite) as f:
        if callable(data):
            data(f)
        else:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)
