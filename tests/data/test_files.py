"""File resolution and downloads, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from parsecnas.data import MIRRORS, ChecksumError, DatasetNotFoundError, load_dataset, search_dirs
from parsecnas.data.files import RemoteFile, cache_dir, fetch_files, locate_files, md5sum, writable_root
from parsecnas.data.idx import MNIST_FILES


def test_download_fetches_mnist_and_checks_md5(
    shared_data: Path, isolated: Path, serve: Callable[[Path], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(MIRRORS, "mnist", [serve(shared_data) + "mnist/"])
    data_dir = isolated / "data"
    ds = load_dataset("mnist", data_dir=data_dir)
    assert ds.train_images.shape == (60000, 1, 28, 28) and len(ds.test_labels) == 10000
    for remote in MNIST_FILES:
        assert md5sum(data_dir / "mnist" / remote.name) == remote.md5
    assert sorted(p.name for p in (data_dir / "mnist").iterdir()) == sorted(f.name for f in MNIST_FILES)
    # Second load needs no network.
    monkeypatch.setitem(MIRRORS, "mnist", [])
    assert len(load_dataset("mnist", data_dir=data_dir, download=False).train_labels) == 60000


def test_download_without_data_dir_goes_to_the_user_cache(
    shared_data: Path, isolated: Path, serve: Callable[[Path], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(MIRRORS, "mnist", [serve(shared_data) + "mnist/"])
    paths = fetch_files("mnist", MNIST_FILES[1:2])
    assert paths[MNIST_FILES[1].name] == isolated / "xdg-cache" / "parsecnas" / "mnist" / MNIST_FILES[1].name


def test_a_corrupted_download_raises_and_leaves_nothing(
    isolated: Path, serve: Callable[[Path], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_server = isolated / "bad"
    bad_server.mkdir()
    (bad_server / "train-labels-idx1-ubyte.gz").write_bytes(b"not the real file")
    monkeypatch.setitem(MIRRORS, "mnist", [serve(bad_server)])
    data_dir = isolated / "data"
    with pytest.raises(ChecksumError, match="train-labels-idx1-ubyte.gz: md5 .* differs"):
        fetch_files("mnist", [MNIST_FILES[1]], data_dir)
    assert not (data_dir / "mnist").exists() or list((data_dir / "mnist").iterdir()) == []


def test_a_bad_first_mirror_falls_back_to_the_next(
    shared_data: Path, isolated: Path, serve: Callable[[Path], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_server = isolated / "bad"
    bad_server.mkdir()
    (bad_server / "t10k-labels-idx1-ubyte.gz").write_bytes(b"junk")
    monkeypatch.setitem(MIRRORS, "mnist", [serve(bad_server), serve(shared_data) + "mnist/"])
    paths = fetch_files("mnist", [MNIST_FILES[3]], isolated / "data")
    assert md5sum(paths[MNIST_FILES[3].name]) == MNIST_FILES[3].md5


def test_offline_raises_dataset_not_found_naming_files_urls_and_folder(
    isolated: Path, refused_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(MIRRORS, "mnist", [refused_url])
    data_dir = isolated / "data"
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("mnist", data_dir=data_dir)
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    for remote in MNIST_FILES:
        assert remote.name in message
        assert refused_url + remote.name in message
    assert f"put them in {data_dir / 'mnist'}/" in message
    assert "refused" in message.lower() or "errno" in message.lower()


def test_download_false_never_uses_the_network(isolated: Path, refused_url: str) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"not attempted \(download=False\)"):
        fetch_files("mnist", MNIST_FILES, isolated / "data", download=False, mirrors={"mnist": [refused_url]})


def test_files_are_searched_in_data_dir_then_env_then_cache(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit, env = isolated / "explicit", isolated / "env"
    monkeypatch.setenv("PARSECNAS_DATA", str(env))
    assert search_dirs(explicit) == [explicit, env, cache_dir()]
    for root in (env, cache_dir()):
        (root / "toy").mkdir(parents=True)
        (root / "toy" / "a.bin").write_bytes(b"a")
    (cache_dir() / "toy" / "b.bin").write_bytes(b"b")
    found = locate_files("toy", ["a.bin", "b.bin", "c.bin"], explicit)
    assert found == {"a.bin": env / "toy" / "a.bin", "b.bin": cache_dir() / "toy" / "b.bin"}


def test_env_folder_is_never_a_download_target(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARSECNAS_DATA", str(isolated / "shared"))
    assert writable_root(None) == cache_dir()
    assert writable_root(isolated / "mine") == isolated / "mine"
    blocker = isolated / "a-file"
    blocker.write_bytes(b"")
    assert writable_root(blocker / "sub") == cache_dir()


def test_unsupported_url_schemes_are_reported(isolated: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="unsupported URL scheme 'ftp'"):
        fetch_files("toy", [RemoteFile("x.bin", "0" * 32)], isolated, mirrors={"toy": ["ftp://example.org/"]})
