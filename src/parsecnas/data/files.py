"""Where dataset files live, how they are downloaded and checked.

A dataset's files are looked up in ``<root>/<folder>/`` for each root in :func:`search_dirs`, in order: the
``data_dir`` argument, the folder named by the ``PARSECNAS_DATA`` environment variable, then the per-user
cache (``$XDG_CACHE_HOME/parsecnas`` or ``~/.cache/parsecnas``). Missing files are downloaded from the base
URLs in :data:`MIRRORS` into ``data_dir`` (when given and writable) or the cache, fsynced, renamed into place
and checked against their published md5; ``$PARSECNAS_DATA`` is never written to. Files found on disk are
checked against the same md5 the first time they are used (:func:`verify_file`); a small record under the
per-user cache (``verified/``) remembers the result by path, size and modification time, so an unchanged file
is not hashed again.

Example:
    >>> from parsecnas.data.files import search_dirs
    >>> [p.name for p in search_dirs("/tmp/mydata")][:1]
    ['mydata']
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..run.atomic import fsync_path

__all__ = [
    "DATA_ENV",
    "MIRRORS",
    "ChecksumError",
    "DatasetNotFoundError",
    "RemoteFile",
    "cache_dir",
    "download_file",
    "fetch_files",
    "locate_files",
    "md5sum",
    "save_npz",
    "search_dirs",
    "verify_file",
    "writable_root",
]

_log = logging.getLogger(__name__)

DATA_ENV = "PARSECNAS_DATA"
"""Environment variable naming a folder that holds ``<dataset>/`` subfolders."""

MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion-mnist": [
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
    "cifar10": ["https://www.cs.toronto.edu/~kriz/"],
    "cifar100": ["https://www.cs.toronto.edu/~kriz/"],
    "svhn": ["http://ufldl.stanford.edu/housenumbers/"],
}
"""Base URLs per dataset folder, tried in order, https first where the authors publish over https (the
Fashion-MNIST authors' repository; the SVHN authors' server and the original MNIST page serve plain http).
Every download is checked against the published md5, so a plain-http mirror cannot slip in a changed file.
Replace an entry to download from another server."""

_CHUNK = 1 << 20
_FILE_MODE = 0o644  # mkstemp creates 0o600; finished files are readable like any other download


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are neither on disk nor downloadable; the message says where to put them."""


class ChecksumError(OSError):
    """A downloaded file's md5 differs from the published one; the file has been deleted."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset as its authors publish it.

    Attributes:
        name: File name, identical locally and on the server.
        md5: Published md5 hex digest.
    """

    name: str
    md5: str


def cache_dir() -> Path:
    """The per-user cache root: ``$XDG_CACHE_HOME/parsecnas``, else ``~/.cache/parsecnas``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "parsecnas"


def search_dirs(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Roots searched for dataset folders, in order, without duplicates.

    Args:
        data_dir: Folder given by the caller; searched first.

    Returns:
        ``[data_dir, $PARSECNAS_DATA, cache_dir()]`` with unset entries left out.
    """
    roots: list[Path] = []
    env = os.environ.get(DATA_ENV)
    for candidate in (data_dir, env, cache_dir()):
        if candidate is None or candidate == "":
            continue
        path = Path(candidate).expanduser()
        if path not in roots:
            roots.append(path)
    return roots


def _is_writable(path: Path) -> bool:
    """Whether ``path`` exists writable, or could be created under its nearest existing ancestor."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def writable_root(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where downloads go: ``data_dir`` when given and writable, else the per-user cache.

    ``$PARSECNAS_DATA`` is only read from: it often names a shared, read-only copy of the data.
    """
    if data_dir is not None and _is_writable(Path(data_dir).expanduser()):
        return Path(data_dir).expanduser()
    return cache_dir()


def locate_files(
    folder: str, names: Sequence[str], data_dir: str | os.PathLike[str] | None = None
) -> dict[str, Path]:
    """Find files on disk without downloading.

    Args:
        folder: Dataset subfolder, e.g. ``"mnist"``.
        names: File names to look for.
        data_dir: Extra root searched first.

    Returns:
        ``{name: path}`` for each name found in some ``<root>/<folder>/``; the first root wins.
    """
    found: dict[str, Path] = {}
    for root in search_dirs(data_dir):
        for name in names:
            path = root / folder / name
            if name not in found and path.is_file():
                found[name] = path
    return found


def md5sum(path: str | os.PathLike[str]) -> str:
    """The md5 hex digest of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: Path, md5: str) -> Path:
    """Checks a file found on disk against its published md5, once per version of the file.

    The result is remembered under ``cache_dir()/verified/`` keyed by the file's resolved path, size and
    modification time (never beside the file: data folders may be shared and read-only), so a later call on
    the unchanged file costs one ``stat``.

    Raises:
        ChecksumError: the md5 differs; the message names the file and says how to recover.
    """
    record, marker = _verified_record(path, md5), _marker(path)
    try:
        if json.loads(marker.read_text(encoding="utf-8")) == record:
            return path
    except (OSError, ValueError):
        pass
    found = md5sum(path)
    if found != md5:
        raise ChecksumError(f"{path}: md5 {found} differs from the published {md5}; the file is damaged or is not "
                            f"the dataset's: delete it to download it again, or replace it with a good copy")
    _remember(marker, record)
    return path


def _marker(path: Path) -> Path:
    key = hashlib.sha1(str(path.resolve()).encode(), usedforsecurity=False).hexdigest()[:24]
    return cache_dir() / "verified" / f"{key}.json"


def _verified_record(path: Path, md5: str) -> dict[str, object]:
    stat = path.stat()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "md5": md5}


def _remember(marker: Path, record: dict[str, object]) -> None:
    """Writes a verification record atomically; a cache that cannot be written only costs a later re-check."""
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=marker.parent, prefix=f".{marker.name}.", suffix=".part")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out)
        os.replace(tmp_name, marker)
    except OSError as err:
        _log.debug("could not record the verification of %s: %s", record["path"], err)


def download_file(url: str, dest: Path, md5: str | None = None, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``dest`` through a temporary file in the same folder, then rename it.

    Args:
        url: An ``http``, ``https`` or ``file`` URL.
        dest: Final path; its folder is created.
        md5: Expected md5; on mismatch nothing is left on disk and :class:`ChecksumError` is raised.
        timeout: Seconds to wait for the server.

    Returns:
        ``dest``.
    """
    scheme = urllib.parse.urlparse(url).scheme
    if scheme not in ("http", "https", "file"):
        raise ValueError(f"unsupported URL scheme {scheme!r} in {url!r}; valid schemes: http, https, file")
    made = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]  # removed again on a failure
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.md5(usedforsecurity=False)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    done = False
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "parsecnas"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())  # on disk before the rename makes it the dataset's file
        if md5 is not None and digest.hexdigest() != md5:
            raise ChecksumError(
                f"{url}: md5 {digest.hexdigest()} differs from the published {md5}; the download was deleted"
            )
        os.chmod(tmp_name, _FILE_MODE)
        os.replace(tmp_name, dest)
        fsync_path(dest.parent)
        done = True
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        for folder in made if not done else ():  # a failed download leaves no empty folders behind
            with contextlib.suppress(OSError):
                folder.rmdir()
    if md5 is not None:  # checked while downloading: no need to hash it again when next found on disk
        _remember(_marker(dest), _verified_record(dest, md5))
    return dest


def _missing_message(
    folder: str,
    missing: Sequence[str],
    data_dir: str | os.PathLike[str] | None,
    bases: Sequence[str],
    reason: str,
    hint: str,
) -> str:
    roots = search_dirs(data_dir)
    lines = [
        f"dataset folder {folder!r}: missing {', '.join(missing)}",
        f"looked in: {', '.join(str(r / folder) for r in roots)}",
        f"download: {reason}",
    ]
    if bases:
        urls = "\n".join(f"  {urllib.parse.urljoin(bases[0], name)}" for name in missing)
        lines.append(f"to install by hand, download\n{urls}")
    target = writable_root(data_dir) / folder
    lines.append(f"and put them in {target}/ (or in <dir>/{folder}/, <dir> given as data_dir or ${DATA_ENV})")
    if hint:
        lines.append(hint)
    return "\n".join(lines)


def _download_from_mirrors(
    remote: RemoteFile, bases: Sequence[str], target: Path
) -> tuple[Path | None, list[str]]:
    """Try each mirror in turn; returns the path (or None) and the errors met on the way."""
    errors: list[str] = []
    checksum_failed = False
    for base in bases:
        url = urllib.parse.urljoin(base, remote.name)
        try:
            _log.info("downloading %s to %s", url, target)
            return download_file(url, target / remote.name, remote.md5), errors
        except ChecksumError as err:
            checksum_failed = True
            errors.append(str(err))
        except (urllib.error.URLError, OSError, ValueError) as err:
            errors.append(f"{url}: {err}")
    if checksum_failed:
        raise ChecksumError("; ".join(errors))
    return None, errors


def fetch_files(
    folder: str,
    files: Sequence[RemoteFile],
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: Mapping[str, Sequence[str]] | None = None,
    hint: str = "",
) -> dict[str, Path]:
    """Find a dataset's files on disk, downloading the missing ones when allowed.

    Args:
        folder: Dataset subfolder and key into ``mirrors``.
        files: The files needed.
        data_dir: Extra root searched first (and written to, when writable).
        download: Whether to try the network for missing files.
        mirrors: Base URLs per folder; defaults to :data:`MIRRORS`.
        hint: Extra line for the error message, e.g. an alternative source.

    Returns:
        ``{name: path}`` for every file.

    Raises:
        DatasetNotFoundError: A file is missing and could not be downloaded.
        ChecksumError: Every mirror tried for a file served it with the wrong md5.
    """
    found = locate_files(folder, [f.name for f in files], data_dir)
    for remote in files:
        if remote.name in found:
            verify_file(found[remote.name], remote.md5)
    missing = [f for f in files if f.name not in found]
    if not missing:
        return found
    bases = list((MIRRORS if mirrors is None else mirrors).get(folder, []))
    if not download:
        reason = "not attempted (download=False)"
    elif not bases:
        reason = f"no mirror known for {folder!r}"
    else:
        target = writable_root(data_dir) / folder
        errors: list[str] = []
        for remote in missing:
            path, file_errors = _download_from_mirrors(remote, bases, target)
            errors.extend(file_errors)
            if path is None:
                break
            found[remote.name] = path
        missing = [f for f in files if f.name not in found]
        if not missing:
            return found
        reason = "failed: " + "; ".join(errors)
    names = [f.name for f in missing]
    raise DatasetNotFoundError(_missing_message(folder, names, data_dir, bases, reason, hint))


def save_npz(path: Path, arrays: Mapping[str, np.ndarray], compress: bool = False) -> Path:
    """Write arrays as an ``.npz`` atomically and byte-reproducibly (fixed zip timestamps, no pickles).

    Args:
        path: Destination; its folder is created.
        arrays: Name to array; object arrays are refused.
        compress: Deflate the members (smaller, slower to load).

    Returns:
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    try:
        with zipfile.ZipFile(tmp_name, "w", compression=method, allowZip64=True) as archive:
            for key, value in arrays.items():
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = method
                with archive.open(info, "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)
        fsync_path(tmp_name)  # on disk before the rename: a crash never leaves a truncated cache under its name
        os.chmod(tmp_name, _FILE_MODE)
        os.replace(tmp_name, path)
        fsync_path(path.parent)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return path
