"""Files on disk are checked against their published md5 once per version; downloads and caches reach the disk
before they are renamed into place; the official https sources come first. No network: file:// URLs."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from parsecnas.data import files
from parsecnas.data.files import MIRRORS, ChecksumError, RemoteFile, download_file, fetch_files, save_npz

CONTENT = b"the published bytes"
REMOTE = RemoteFile("a.bin", hashlib.md5(CONTENT).hexdigest())


@pytest.fixture
def hashes(monkeypatch):
    """The paths md5sum reads, in order."""
    seen = []
    real = files.md5sum

    def counting(path):
        seen.append(Path(path))
        return real(path)
    monkeypatch.setattr(files, "md5sum", counting)
    return seen


def put(isolated: Path, content: bytes = CONTENT) -> Path:
    path = isolated / "data" / "toy" / REMOTE.name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_a_damaged_file_on_disk_is_refused_by_name_and_left_alone(isolated: Path) -> None:
    path = put(isolated, b"a truncated or foreign file")
    with pytest.raises(ChecksumError, match=f"{path}: md5 [0-9a-f]+ differs from the published {REMOTE.md5}"):
        fetch_files("toy", [REMOTE], isolated / "data", download=False)
    assert path.read_bytes() == b"a truncated or foreign file"


def test_a_file_on_disk_is_hashed_once_until_it_changes(isolated: Path, hashes) -> None:
    path = put(isolated)
    for _ in range(3):
        assert fetch_files("toy", [REMOTE], isolated / "data", download=False) == {REMOTE.name: path}
    assert hashes == [path]
    path.write_bytes(b"changed later")
    with pytest.raises(ChecksumError):
        fetch_files("toy", [REMOTE], isolated / "data", download=False)
    assert hashes == [path, path]


def test_a_downloaded_file_is_not_hashed_again(isolated: Path, hashes) -> None:
    source = isolated / "server" / REMOTE.name
    source.parent.mkdir()
    source.write_bytes(CONTENT)
    mirrors = {"toy": [source.parent.as_uri() + "/"]}
    first = fetch_files("toy", [REMOTE], isolated / "data", mirrors=mirrors)
    assert fetch_files("toy", [REMOTE], isolated / "data", download=False) == first
    assert hashes == []


@pytest.fixture
def disk_events(monkeypatch):
    """Every fsync (by path) and rename, in order."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(src), str(dst)))
        return real_replace(src, dst)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def _synced_before_renamed(events, target: Path) -> bool:
    renames = [i for i, e in enumerate(events) if e[0] == "replace" and e[2] == str(target)]
    assert len(renames) == 1
    src = events[renames[0]][1]
    synced_file = any(e == ("fsync", src) for e in events[:renames[0]])
    synced_dir = any(e == ("fsync", str(target.parent)) for e in events[renames[0]:])
    return synced_file and synced_dir


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names fsynced files through /proc")
def test_downloads_and_caches_are_fsynced_before_the_rename(isolated: Path, disk_events) -> None:
    source = isolated / REMOTE.name
    source.write_bytes(CONTENT)
    target = isolated / "data" / "toy" / REMOTE.name
    download_file(source.as_uri(), target, REMOTE.md5)
    assert target.read_bytes() == CONTENT and _synced_before_renamed(disk_events, target)
    cache = isolated / "cache" / "images.npz"
    save_npz(cache, {"images": np.zeros((2, 1, 4, 4), np.uint8)})
    assert _synced_before_renamed(disk_events, cache)


def test_the_official_https_sources_come_first() -> None:
    for folder in ("mnist", "fashion-mnist", "cifar10", "cifar100"):
        assert MIRRORS[folder][0].startswith("https://"), folder
    assert "zalandoresearch/fashion-mnist" in MIRRORS["fashion-mnist"][0]
