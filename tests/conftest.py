from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

# one thread per test process: `make test` runs two pytest-xdist workers on two cores (more threads oversubscribe
# them), and the distributed tests compare against ranks that each run on one thread; the thread count changes the
# order of float sums, which tiny batch-normalised networks amplify (tests/test_train_distributed.py)
torch.set_num_threads(1)


@pytest.fixture
def data_dir() -> Path:
    """The offline data folder (``PARSECNAS_DATA``, set by .ci/run); tests that need it skip without it."""
    value = os.environ.get("PARSECNAS_DATA")
    if not value or not Path(value).is_dir():
        pytest.skip("PARSECNAS_DATA is not set to the offline data folder")
    return Path(value)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def snapshot():
    """``snapshot(folder)``: every file under ``folder`` (relative name -> bytes), to check that nothing changed."""
    return _files


@pytest.fixture(scope="session")
def local_ray() -> Iterator[None]:
    """A local Ray instance of 2 CPUs for the whole session (its start costs seconds); skips without Ray. Its
    workers get this process's PYTHONPATH, thread count and data folder, as :class:`RayPool` gives them."""
    ray = pytest.importorskip("ray")
    env = {k: os.environ[k] for k in ("PYTHONPATH", "OMP_NUM_THREADS", "PARSECNAS_DATA") if k in os.environ}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
    yield
    ray.shutdown()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on the local Ray instance run on one pytest-xdist worker (``--dist loadgroup``), so that the session
    starts one Ray instance, not one per worker on two cores."""
    for item in items:
        if "local_ray" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("ray"))
