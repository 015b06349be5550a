"""How vqimage touches files: atomic writes, and reads of regular files only.

Reading: :func:`open_regular` refuses anything but a regular file (``/dev/zero`` would be read
until memory runs out, a FIFO blocks forever), and :func:`read_regular` reads at most a size
limit, so a reader never holds more than it expects.

Writing: the one way vqimage writes files: atomically, never clobbering unless asked.

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
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from vqimage.errors import NotRegularFileError

__all__ = [
    "atomic_file", "atomic_write", "check_regular", "open_regular", "read_regular", "temp_path",
]

# Filesystems without hard links: fall back to a rename after a fresh existence check.
_NO_LINK = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


# -- reading -------------------------------------------------------------------------------------
def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


def _require_regular(path: str, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", path)
    if not stat.S_ISREG(mode):
        raise NotRegularFileError(
            errno.EINVAL, f"not a regular file but {_file_type(mode)}; vqimage reads only files",
            path,
        )


def check_regular(path: str | os.PathLike[str]) -> None:
    """Raise unless ``path`` is a regular file (following symlinks).

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        As ``open`` would.
    NotRegularFileError
        For devices, FIFOs, sockets: one line naming the path and what it is.
    """
    p = os.fspath(path)
    _require_regular(str(p), os.stat(p).st_mode)


def open_regular(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open a regular file for binary reading; refuse devices, FIFOs and sockets.

    The type is checked with ``stat`` before opening and again with ``fstat`` on the open
    descriptor, and the file is opened with ``O_NONBLOCK`` where the platform has it: a FIFO
    swapped in between the two checks cannot block the open, and is refused by the second.

    Examples
    --------
    >>> open_regular("/dev/null")
    Traceback (most recent call last):
    ...
    vqimage.errors.NotRegularFileError: /dev/null: not a regular file but a character device; ...
    """
    p = os.fspath(path)
    check_regular(p)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(p, flags | getattr(os, "O_BINARY", 0))
    try:
        _require_regular(str(p), os.fstat(fd).st_mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a regular file: ordinary reads from here on
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path``; ``ValueError`` if it holds more than ``limit``.

    The size comes from ``fstat`` on the open file and at most that many bytes are read (a
    file that grows meanwhile is read up to its size at opening).
    """
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if limit is not None and size > limit:
            raise ValueError(f"{os.fspath(path)}: {size} bytes, more than the {limit} expected")
        return f.read(size)


# -- writing -------------------------------------------------------------------------------------
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
