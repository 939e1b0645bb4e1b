"""Reading and writing files safely: the one place where the explorer opens files it did not create.

Reading (`read_file`, `open_regular`): only regular files. A FIFO, a device or a socket is refused without
blocking (opened with O_NONBLOCK, then checked with fstat), and at most `limit` + 1 bytes are ever read, so
`/dev/zero` or a 10 GB file cannot exhaust memory. `follow_symlinks=False` opens with O_NOFOLLOW: used for
files the explorer itself owns (checkpoints it resumes, the results store, the host lock).

Writing (`atomic_write`): the data goes to a short temporary name in the target's folder (created with
O_EXCL | O_NOFOLLOW, so it can never be a planted link), is fsynced, then renamed over the target, so a
crash leaves the old file or the new one, never half of one. The target must be a new path or an existing
regular file. Anything else is refused, never replaced:
- a folder, a device (`/dev/null`), a FIFO or a socket;
- a symbolic link. Replacing the link would silently cut it; writing through it would let a link planted in
  a shared folder redirect the output onto another file. Give the real path instead.
- a path ending in "/": that names a folder, and outputs are files.
- a file the running command read as an input (`command_inputs`): `export --spec d.json --out d.json` must
  not destroy the design it exports;
- an SQLite database or a PyTorch checkpoint (known by their first bytes), unless the output is of that kind:
  an export aimed by a slip at the results store or at trained weights must not replace hours of work.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import fcntl
import os
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import UserError
from .paths import user_path

CHUNK = 1 << 20
# Errors of a write itself (not of the path): the disk or quota is full, the file too large, the device failed.
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}
FRESH_TEMP_S = 5.0  # an empty, unlocked temporary file this young may be one whose writer is about to lock it
TEMP_PREFIX = ".explorer-"  # short on purpose: a 250-character target name must still leave room
TEMP_SUFFIX = ".tmp"
SQLITE_MAGIC = b"SQLite format 3\x00"
ZIP_MAGIC = b"PK\x03\x04"
# torch.save before torch 1.6: a pickle whose first object is this magic number (protocol 2, a long)
LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"
CHECKPOINT_KIND = "a PyTorch checkpoint"
SQLITE_KIND = "an SQLite database"

# (device, inode) of every file the running command has read (see command_inputs); None outside a command.
_INPUTS: contextvars.ContextVar[set[tuple[int, int]] | None] = contextvars.ContextVar("explorer_inputs", default=None)


@contextlib.contextmanager
def command_inputs() -> Iterator[None]:
    """While open, every file read through this module (or named by `note_input`) counts as an input of the
    running command, and no output of it may replace one. The CLI opens it around each command."""
    token = _INPUTS.set(set())
    try:
        yield
    finally:
        _INPUTS.reset(token)


def note_input(path: str | os.PathLike) -> None:
    """Count an existing file read by other means (the results store, opened by SQLite) as an input."""
    seen = _INPUTS.get()
    if seen is None:
        return
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return
    seen.add((st.st_dev, st.st_ino))


def _is_input(st: os.stat_result) -> bool:
    seen = _INPUTS.get()
    return seen is not None and (st.st_dev, st.st_ino) in seen


def file_kind(path: str | os.PathLike) -> str | None:
    """CHECKPOINT_KIND or SQLITE_KIND when the regular file at `path` is one (by its first bytes), else None."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(os.dup(fd), "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
            if head.startswith(SQLITE_MAGIC):
                return SQLITE_KIND
            if head.startswith(LEGACY_TORCH_MAGIC):
                return CHECKPOINT_KIND
            if head.startswith(ZIP_MAGIC):
                f.seek(0)
                return CHECKPOINT_KIND if _torch_archive(f) else None
    except OSError:
        return None
    finally:
        os.close(fd)
    return None


def _torch_archive(f: BinaryIO) -> bool:
    """A zip written by torch.save: it holds <name>/data.pkl (read from the central directory only)."""
    import zipfile

    try:
        return any(name.endswith("/data.pkl") or name == "data.pkl" for name in zipfile.ZipFile(f).namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _why(e: OSError) -> str:
    return e.strerror or str(e)


def cannot_create(folder: Path, e: OSError) -> str:
    """Why a new file or folder cannot be made in `folder`, said plainly ("No such file or directory" misleads
    when the folder exists but takes nothing new, as /proc does)."""
    if e.errno == errno.ENOENT:
        return "its folder takes no new files" if folder.is_dir() else f"no folder {folder}"
    return _why(e)


def make_folder(folder: Path, what: str = "folder") -> None:
    """`folder` and its missing parents, or one UserError saying why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        existing = next((p for p in folder.parents if p.exists()), folder.parent)
        reason = cannot_create(existing, e) if e.errno == errno.ENOENT else _why(e)
        raise UserError(f"{folder}: cannot create the {what} ({reason})") from None


def _size(n: int) -> str:
    return f"{n:,} bytes"


def open_regular(path: str | os.PathLike, what: str, limit: int, follow_symlinks: bool = True) -> BinaryIO:
    """An open binary file, checked to be a regular file of at most `limit` bytes; UserError otherwise.

    The caller must still read at most limit + 1 bytes (a file can grow after the check): `read_file` does.
    """
    p = user_path(path, what)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        st = os.stat(p, follow_symlinks=follow_symlinks)  # refuse devices before even opening them
        if not stat.S_ISREG(st.st_mode):
            raise UserError(f"{p}: is {_kind(st.st_mode)}; the {what} must be a regular file")
        fd = os.open(p, flags)
        note_input(p)
    except FileNotFoundError:
        raise UserError(f"{p}: no such {what}") from None
    except OSError as e:
        if e.errno == errno.ELOOP and not follow_symlinks:
            raise UserError(f"{p}: is a symbolic link; the {what} must be a regular file, not a link") from None
        raise UserError(f"{p}: cannot read the {what} ({_why(e)})") from None
    try:
        st = os.fstat(fd)  # what was opened, which may differ from what was checked a moment ago
        if not stat.S_ISREG(st.st_mode):
            raise UserError(f"{p}: is {_kind(st.st_mode)}; the {what} must be a regular file")
        if st.st_size > limit:
            raise UserError(f"{p}: the {what} is {_size(st.st_size)}; at most {_size(limit)} are accepted")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_file(path: str | os.PathLike, what: str, limit: int, follow_symlinks: bool = True) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (never more than limit + 1 are read)."""
    p = user_path(path, what)
    with open_regular(p, what, limit, follow_symlinks) as f:
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise UserError(f"{p}: cannot read the {what} ({_why(e)})") from None
    if len(data) > limit:
        raise UserError(f"{p}: the {what} is over {_size(limit)}, the most accepted")
    return data


def check_output_path(
    path: str | os.PathLike, what: str = "output", kind: str | None = None, rewrites_input: bool = False
) -> Path:
    """The target as a Path, refused (UserError) unless it is a new path or an existing regular file that is
    neither an input of the running command nor a database or checkpoint (see the module docstring).

    `kind`: what the output is (CHECKPOINT_KIND for a training checkpoint), so a file of that kind may be
    replaced. `rewrites_input`: the explorer's own file, read and now rewritten (a resumed run's checkpoint)."""
    text = os.fspath(path)
    if not text.strip():
        raise UserError(f"the {what} path is empty")
    if text.endswith(("/", os.sep)):
        raise UserError(f"{text}: ends with '/', which names a folder; give a file name for the {what}")
    p = user_path(text, what)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return p
    except OSError as e:
        raise UserError(f"{p}: cannot write here ({_why(e)})") from None
    if stat.S_ISLNK(st.st_mode):
        raise UserError(f"{p}: is a symbolic link; outputs replace only regular files (give the link's real path)")
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"{p}: is a folder; give a file name for the {what}")
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{p}: is {_kind(st.st_mode)}; outputs are written only to regular files or new paths")
    if _is_input(st) and not rewrites_input:
        raise UserError(f"{p}: is an input of this command; the {what} would replace it, so give another path")
    found = file_kind(p)
    if found is not None and found != kind:
        raise UserError(f"{p}: is {found}; the {what} never replaces one, so give another path")
    return p


def temp_path(target: Path) -> Path:
    """A fresh short name beside `target` (ours: cleaned by `remove_stale_temps`)."""
    return target.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}{TEMP_SUFFIX}")


def _create_temp(target: Path, what: str, shown: Path | None = None) -> tuple[int, Path]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(10):
        tmp = temp_path(target)
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as to any ordinary file
        except FileExistsError:
            continue
        except OSError as e:
            raise UserError(f"{shown or target}: cannot write here ({cannot_create(target.parent, e)})") from None
        try:  # held while the file is ours: a cleaner (remove_stale_temps) never removes a locked one
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass  # a file system without locks: the age rule of remove_stale_temps still applies
        return fd, tmp
    raise UserError(f"{target.parent}: cannot create a temporary file for the {what}")


def check_writable_folder(folder: str | os.PathLike, what: str = "folder") -> None:
    """Create and remove a temporary file in `folder`: the one honest test that writing there works."""
    folder = Path(folder)
    fd, tmp = _create_temp(folder / "probe", what, shown=folder)
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)


class Sink:
    """The open temporary file; `written` counts the bytes."""

    def __init__(self, file: BinaryIO):
        self.file = file
        self.written = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.written += len(data)


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, what: str = "output", kind: str | None = None, rewrites_input: bool = False
) -> Iterator[Sink]:
    """Write `path` all at once or not at all (see the module docstring for what a target may be).

    The target is checked and the temporary file created on entry, so an unwritable or refused path fails
    before any slow work; on success the temporary file replaces the target, on any error it is removed.
    """
    target = check_output_path(path, what, kind, rewrites_input)
    fd, tmp = _create_temp(target, what)
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                sink = Sink(f)
                yield sink
                f.flush()
                os.fsync(f.fileno())  # the data is on disk before the rename makes it visible
        except OSError as e:
            if e.errno not in WRITE_ERRNOS:
                raise
            raise UserError(f"{target}: cannot write the {what} ({_why(e)}); nothing was written") from None
        check_output_path(target, what, kind, rewrites_input)  # the target may have changed during the slow work
        try:
            os.replace(tmp, target)
        except OSError as e:
            raise UserError(f"{target}: cannot write here ({_why(e)})") from None
        _fsync_dir(target.parent)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort: some file systems refuse fsync on a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# The largest image decoded: 50 megapixels (an 8K photo is 33). A 13000 x 13000 PNG is refused before any
# pixel is decoded instead of growing a loader to ~1 GB. Pillow's own check (a warning on stderr above 89 M
# pixels, an error above 179 M) is turned into this refusal too, so no raw DecompressionBomb* reaches the user.
MAX_IMAGE_PIXELS = 50_000_000


class ImageTooLarge(ValueError):
    """An image over MAX_IMAGE_PIXELS: skipped and counted like any unreadable file."""


def open_image(path: str | os.PathLike):
    """A Pillow image, its header read and its size checked: every reader of image files (training, the NASWOT
    minibatch) opens them here. Raises ImageTooLarge for a decompression bomb, Pillow's own errors otherwise."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)  # reads only the header: the size is known before any decoding
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageTooLarge(f"{path}: larger than the {MAX_IMAGE_PIXELS:,} pixels decoded at most") from None
    w, h = img.size
    if w * h > MAX_IMAGE_PIXELS:
        img.close()
        raise ImageTooLarge(f"{path}: {w} x {h}, larger than the {MAX_IMAGE_PIXELS:,} pixels decoded at most")
    return img


def remove_stale_temps(folder: str | os.PathLike, pattern: str = f"{TEMP_PREFIX}*{TEMP_SUFFIX}") -> list[Path]:
    """Delete temporary files a killed writer left in `folder`: only regular files of our naming pattern that
    no live writer holds. A writer keeps an exclusive lock on its temporary file (see _create_temp), which the
    kernel drops when the writer dies, so an `export` writing into the folder right now keeps its file."""
    removed = []
    try:
        candidates = list(Path(folder).glob(pattern))
    except OSError:
        return removed
    for p in candidates:
        if _remove_if_abandoned(p):
            removed.append(p)
    return removed


def _remove_if_abandoned(p: Path) -> bool:
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(p, flags)
    except OSError:
        return False  # gone, a link, or not ours to open
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return False
        if st.st_size == 0 and time.time() - st.st_mtime < FRESH_TEMP_S:
            return False  # just created: its writer may not hold the lock yet
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live writer holds it
        except OSError:
            pass  # no locks on this file system: an old-enough file is taken as abandoned
        os.unlink(p)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
