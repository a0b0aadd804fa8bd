"""Training one architecture once per seed, and the table rows of finished runs.

:func:`train_seeds` trains into ``run_dir/seed-<s>`` (in this process or each seed as a Ray task) and writes
``summary.json``: the per-seed results and the mean +- sample std of the test errors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .report.runs import table_summaries
from .report.table import summarize
from .run import Run, RunError
from .run.distributed import Distributed
from .run.ray_pool import Mapper, sequential_map
from .spaces.genotype import Genotype, genotype_path
from .train import train_genotype
from .train_config import TrainConfig

__all__ = ["iter_results", "train_seeds"]


def train_seeds(
    genotype: Genotype | str | Path, config: TrainConfig, run_dir: str | Path, seeds: Sequence[int], *,
    resume: bool = False, progress: bool = True, mapper: Mapper = sequential_map,
) -> dict[str, Any]:
    """Trains ``genotype`` once per seed (into ``run_dir/seed-<s>``) and writes ``summary.json``: the per-seed
    results and mean +- std (sample std, n - 1) of the test errors. Seeds already finished are not rerun when
    resuming; a seed that was interrupted resumes from its checkpoint.

    ``mapper`` runs the seeds' trainings (:func:`~parsecnas.run.ray_pool.sequential_map`: one after another
    here; :meth:`RayPool.map <parsecnas.run.ray_pool.RayPool.map>`: each as a Ray task). Each seed's run is
    the same computation wherever it runs, so the records are those of the sequential run; the directories
    must then be on a file system the Ray workers share.
    """
    if not seeds:
        raise ValueError("seeds must name at least one seed, e.g. [0, 1, 2]")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    root = Path(run_dir).resolve()  # Ray workers need not share this process's working directory
    dirs = [root / f"seed-{seed}" for seed in seeds]
    if resume and not any(Run(d).exists() for d in dirs):
        raise RunError(f"nothing to resume in {root}: it holds no seed run (looked for "
                       f"{dirs[0] / 'config.yaml'} ...); check the directory name, or drop --resume")
    path = genotype_path(genotype)
    spec = str(path.resolve()) if path is not None and path.exists() else genotype
    todo = [(seed, d) for seed, d in zip(seeds, dirs, strict=True) if not (resume and (d / "result.json").is_file())]
    jobs = [_SeedJob(spec, replace(config, seed=seed), str(d), resume and Run(d).exists(),
                     progress and mapper is sequential_map) for seed, d in todo]
    trained = dict(zip((d for _, d in todo), mapper(_train_seed, jobs, ()), strict=True))
    results = [trained[d] if d in trained else Run(d).read_json("result.json") for d in dirs]
    summary = summarize(results)
    if Distributed.current().is_main:  # each seed trained on every rank of a torchrun job; rank 0 writes
        Run(root).write_json("summary.json", summary)
    return summary


@dataclass(frozen=True)
class _SeedJob:
    """One seed's training, as a Ray task receives it."""

    genotype: Genotype | str | Path
    config: TrainConfig
    run_dir: str
    resume: bool
    progress: bool


def _train_seed(job: _SeedJob) -> dict[str, Any]:
    return train_genotype(job.genotype, job.config, job.run_dir, resume=job.resume, progress=job.progress)


def iter_results(paths: Sequence[str | Path]) -> Iterator[dict[str, Any]]:
    """A table row per run found under ``paths``: a multi-seed directory's ``summary.json``, one training run's
    ``result.json`` as a one-seed summary, a search or black-box run (:func:`parsecnas.report.runs.table_summary`).
    """
    yield from table_summaries(paths)
