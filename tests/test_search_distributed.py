"""A search launched by torchrun on 2 ranks, killed mid-way, resumes (on 2 ranks, or on 1) to the result of an
uninterrupted single-process search: PARSEC's samples split over ranks take the single-process step (up to the
order of float sums, which over many steps lets runs drift apart as any two float orders do), and the
checkpoint does not depend on the number of ranks."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace

from _ranks import forbid_writes_under, kill_torchrun_after_checkpoint, run_ranks

from parsecnas.run.distributed import Distributed
from parsecnas.search import DataConfig, NetConfig, SearchConfig, run_search
from parsecnas.strategies import ParsecConfig

CONFIG = SearchConfig(epochs=2, steps_per_epoch=3, device="cpu", net=NetConfig(num_cells=3, channels=4),
                      data=DataConfig(batch_size=8, eval_examples=64), settings=ParsecConfig(samples=4))
FLAGS = ["--epochs=2", "--steps_per_epoch=3", "--device=cpu", "--net.num_cells=3", "--net.channels=4",
         "--data.batch_size=8", "--data.eval_examples=64", "--settings.samples=4"]
VOLATILE = {"time_s", "peak_rss_mb"}


def _stable(metrics: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k not in VOLATILE} for m in metrics]


def _close(a: list[dict], b: list[dict]) -> bool:
    # gradients summed over ranks round differently from one process's sum: the losses agree to ~1e-8, a gradient
    # norm after a few steps to ~4e-5 relative (seen on one machine); a wrong resume (other batches, other
    # architectures, a lost optimiser state) moves every figure by far more
    def same(x, y) -> bool:
        return math.isclose(x, y, rel_tol=1e-4, abs_tol=1e-5) if isinstance(x, float) else x == y

    return len(a) == len(b) and all(r.keys() == s.keys() and all(same(r[k], s[k]) for k in r) for r, s in zip(a, b))


def _kill_after_first_epoch(run_dir) -> None:
    """``torchrun --nproc-per-node 2 -m parsecnas search ...``, killed (torchrun and every rank) once the first
    epoch's checkpoint is written; returns once the ranks are gone (the run's lock is free)."""
    kill_torchrun_after_checkpoint(["search", "--run-dir", str(run_dir), "--quiet", *FLAGS], run_dir)


GDAS = replace(CONFIG, strategy="gdas", epochs=1, settings=None)


def _resume_then_search_gdas(d: Distributed, run_dir, gdas_dir) -> None:
    """Resumes the killed search, then runs a data-parallel GDAS search; rank 1 may write neither directory."""
    if not d.is_main:
        forbid_writes_under(run_dir)
        forbid_writes_under(gdas_dir)
    run_search(CONFIG, run_dir, resume=True, progress=False, distributed=d)
    result = run_search(GDAS, gdas_dir, progress=False, distributed=d)
    (gdas_dir.parent / f"gdas-rank{d.rank}.txt").write_text(str(result.architecture))


def test_a_killed_two_rank_search_resumes_on_two_ranks_or_one_to_the_single_process_result(tmp_path) -> None:
    full = run_search(CONFIG, tmp_path / "one", progress=False, distributed=Distributed())
    killed = tmp_path / "killed"
    _kill_after_first_epoch(killed)
    logged = (killed / "metrics.jsonl").read_text().splitlines()
    assert 1 <= len(logged) < CONFIG.epochs  # it was stopped mid-way
    shutil.copytree(killed, tmp_path / "killed-copy")
    run_ranks(_resume_then_search_gdas, 2, tmp_path, killed, tmp_path / "gdas")
    on_one = run_search(CONFIG, tmp_path / "killed-copy", resume=True, progress=False, distributed=Distributed())
    for resumed in (run_search(CONFIG, killed, resume=True, progress=False), on_one):  # the first: finished
        assert resumed.architecture == full.architecture
        assert _close(_stable(resumed.metrics), _stable(full.metrics))
    assert (killed / "genotype.json").read_text() == (tmp_path / "one" / "genotype.json").read_text()
    derived = [(tmp_path / f"gdas-rank{r}.txt").read_text() for r in (0, 1)]  # sharded batches, summed gradients
    assert derived[0] == derived[1] and (tmp_path / "gdas" / "genotype.json").is_file()
