"""Private files: permission-checked reads and atomic, first-writer-wins creation.

A secret file is never visible half-written: its content is written to a temporary file (mode 0600)
in the same directory, flushed, then hard-linked to its final name. ``link`` fails when the name
already exists, so when two processes race at first start exactly one file wins and both then load
that one (a plain ``rename`` would let the second overwrite the first after the first had already
loaded its own content).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from pkg.ipc.errors import InsecureFileModeError, IpcError, IpcFileMissingError

__all__ = ["PRIVATE_DIR_MODE", "publish_new_file", "read_private_file"]

PRIVATE_DIR_MODE = 0o700
_GROUP_OTHER_BITS = 0o077
# Errors meaning "this file system cannot hard-link": fall back to an exclusive-as-possible rename.
_NO_LINK_ERRNOS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK})


def read_private_file(path: Path, what: str, *, max_size: int = 1 << 20) -> bytes:
    """Read ``path``, refusing it unless it is a regular file that only its owner can access.

    ``what`` names the file in error messages ("auth token file", ...). The mode is checked on the
    opened descriptor, so a file swapped between the check and the read is not trusted by mistake.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise IpcFileMissingError(what, path) from None
    except OSError as exc:
        raise IpcError(f"cannot open {what} {path}: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise IpcError(f"{what} {path} is not a regular file")
        mode = stat.S_IMODE(st.st_mode)
        if os.name == "posix" and mode & _GROUP_OTHER_BITS:
            raise InsecureFileModeError(what, path, mode)
        if st.st_size > max_size:
            raise IpcError(f"{what} {path} is {st.st_size} bytes, more than the {max_size} expected")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(max_size + 1)
    finally:
        os.close(fd)


def publish_new_file(path: Path, data: bytes) -> bool:
    """Create ``path`` with ``data`` and mode 0600 unless it exists; True when this call created it.

    Missing parent directories are created with mode 0700. Either the whole content appears under
    ``path`` or nothing does.
    """
    import tempfile  # only the core agent creates files: clients start without it

    _make_private_dirs(path.parent)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:  # mkstemp creates the file with mode 0600
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_LINK_ERRNOS:
                raise IpcError(f"cannot create {path}: {exc.strerror or exc}") from exc
            if path.exists():
                return False
            os.replace(tmp, path)
        _fsync_dir(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _make_private_dirs(directory: Path) -> None:
    """``mkdir -p`` where every directory this call creates gets mode 0700 (whatever the umask)."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # another process created it meanwhile
        except OSError as exc:
            raise IpcError(f"cannot create directory {d}: {exc.strerror or exc}") from exc
        os.chmod(d, PRIVATE_DIR_MODE)


def _fsync_dir(directory: Path) -> None:
    """Make the new directory entry durable; best effort (not every platform can open directories)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
