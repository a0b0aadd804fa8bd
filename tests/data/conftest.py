"""Fixtures for the data tests: the shared offline data, isolated cache folders and a local HTTP server."""

from __future__ import annotations

import functools
import http.server
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SHARED_DATA = os.environ.get("PARSECNAS_DATA")


@pytest.fixture
def shared_data() -> Path:
    """The folder named by $PARSECNAS_DATA (read when the tests were collected), or skip."""
    if not SHARED_DATA:
        pytest.skip("PARSECNAS_DATA is not set; point it at the offline data folder to run this test")
    return Path(SHARED_DATA)


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Unset $PARSECNAS_DATA and send the per-user cache to an empty temporary folder; returns tmp_path."""
    monkeypatch.delenv("PARSECNAS_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[Path], str]]:
    """Serve folders over HTTP on 127.0.0.1; ``serve(folder)`` returns the base URL ending in '/'."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def refused_url() -> str:
    """An http URL on 127.0.0.1 whose port refuses connections."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
