"""Files scalinglaws writes: atomically, so an interrupted write never leaves half a file.

The bytes go to a temporary file in the target's folder (same file system), which is
flushed, synced and renamed over the target with :func:`os.replace`. Readers see the
old file or the new one, never a mix; if anything fails on the way the temporary file
is removed and the target is left as it was.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from scalinglaws.errors import DataError

__all__ = ["atomic_write_bytes", "atomic_write_text", "sync_folder"]


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The new file gets the permissions of the file it replaces, or the usual ones for a
    new file (``0o666`` less the umask), not the private ``0o600`` of a temporary file.

    Raises
    ------
    DataError
        If the folder does not exist or the file cannot be written (the message names
        the path and the reason); the target is then untouched and no temporary file
        is left behind.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DataError(f"cannot write {str(path)!r}: the folder {str(folder)!r} does not exist")
    if path.is_dir():
        raise DataError(f"cannot write {str(path)!r}: it is a folder")
    tmp: str | None = None
    try:
        mode = _mode_for(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        tmp = None
        sync_folder(folder)
    except OSError as err:
        raise DataError(f"cannot write {str(path)!r}: {err.strerror or err}") from None
    finally:
        if tmp is not None and os.path.lexists(tmp):
            try:
                os.unlink(tmp)
            except OSError:  # pragma: no cover - nothing more we can do
                pass


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`atomic_write_bytes`."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise DataError(f"cannot write {str(path)!r}: the text is not valid Unicode ({err.reason})") from None
    atomic_write_bytes(path, data)


def _mode_for(path: Path) -> int:
    """Permissions for the new file: those of the file it replaces, else 0o666 & ~umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask would, for every thread)
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def sync_folder(folder: Path) -> None:
    """Make the rename durable where the platform allows syncing a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
