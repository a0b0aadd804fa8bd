"""Ensembles of architectures drawn from a learnt PARSEC distribution, trained from scratch and averaged.

PARSEC learns a distribution p(alpha | pi) over architectures rather than one architecture; its paper leaves
ensembles of samples from that distribution as future work. Here :func:`sample_ensemble` draws M architectures
from a search run's ``distribution.json`` (optionally the mode first), :func:`random_ensemble` draws M uniform
ones of the same space as the baseline at the same budget, and :func:`train_ensemble` trains each member from
scratch with :func:`parsecnas.train.train_genotype` and scores the average of the members' softmax outputs.

An ensemble run directory::

    run_dir/
        member-0/ ... member-<M-1>/   `parsecnas train` runs (result.json, model.pt); member i uses seed + i
        ensemble.json                 each member's and the ensemble's test errors

Example:
    >>> from parsecnas.train import TrainConfig
    >>> archs = sample_ensemble("runs/search-1", m=3, seed=0, include_mode=True)  # doctest: +SKIP
    >>> cfg = TrainConfig(dataset="fashion-mnist-small", num_cells=3, channels=8, epochs=1, cutout=0)
    >>> train_ensemble(archs, cfg, "runs/ensemble-1", mode_first=True)["test_error_pct"]  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from .config import from_dict
from .data import Loader, load_dataset
from .distributions import CategoricalProduct
from .evaluation import autocast_dtype, iter_logits, resolve_device, topk_accuracy
from .export import load_model
from .run import Run, RunError
from .run.distributed import Distributed
from .search import SearchConfig
from .spaces import get_space, sample_uniform
from .spaces.base import Space, choice_op
from .spaces.genotype import Genotype, resolve_genotype
from .strategies import ParsecConfig
from .train import TrainConfig, evaluation_loader, train_genotype
from .warm_start import load_distribution

DEFAULT_SPACE = "darts"
"""The space of a search run whose ``config.yaml`` names none (``SearchConfig.space``'s default)."""


def _check_size(m: int) -> None:
    if m < 1:
        raise ValueError(f"ensemble size m must be >= 1, got {m}")


def run_space(run_dir: str | Path) -> Space:
    """The space a search run used: its ``config.yaml`` ``space`` field, else the DARTS space."""
    run = Run(run_dir)
    config = run.config() if run.exists() else {}
    return get_space(str(config.get("space") or DEFAULT_SPACE))


def learnt_distribution(run_dir: str | Path) -> tuple[Space, CategoricalProduct]:
    """The space of a PARSEC search run and its learnt distribution, rebuilt from ``distribution.json``.

    Choices using an op the run excluded (``settings.exclude_ops`` of its ``config.yaml``) keep probability 0,
    as in the search.

    Raises:
        FileNotFoundError: ``run_dir`` holds no ``distribution.json``.
        ValueError: the exported decisions do not match the run's space.
    """
    if not (Path(run_dir) / "distribution.json").is_file():
        raise FileNotFoundError(f"{run_dir} holds no distribution.json; give a PARSEC search run directory "
                                "(`parsecnas search` writes its learnt distribution there)")
    space = run_space(run_dir)
    distribution = CategoricalProduct(space.decisions)
    missed = distribution.transfer_from(load_distribution(run_dir))
    if missed:
        raise ValueError(f"{run_dir}/distribution.json does not fit the {space.name!r} space: no logits of the "
                         f"right size for {len(missed)} decision(s), e.g. {', '.join(missed[:3])}")
    excluded = _excluded_ops(run_dir)
    if excluded:
        allowed = torch.tensor([[choice_op(c) not in excluded for c in d.choices]
                                + [False] * (distribution.valid.shape[1] - d.size) for d in space.decisions])
        distribution.restrict(allowed)
    return space, distribution


def _excluded_ops(run_dir: str | Path) -> tuple[str, ...]:
    run = Run(run_dir)
    settings = from_dict(SearchConfig, run.config()).settings if run.exists() else None
    return (settings.resolved().exclude_ops or ()) if isinstance(settings, ParsecConfig) else ()


def sample_ensemble(run_dir: str | Path, m: int, seed: int, *, include_mode: bool = False) -> list[Hashable]:
    """``m`` architectures drawn independently (with replacement) from a search run's learnt distribution.

    Args:
        run_dir: a PARSEC search run directory (``distribution.json``, ``config.yaml``).
        m: the ensemble size, >= 1.
        seed: seeds the ``torch.Generator`` of the draws: the same seed gives the same members.
        include_mode: member 0 is the distribution's mode (the run's ``genotype.json``) and ``m - 1`` are drawn.

    Example:
        >>> members = sample_ensemble("runs/search-1", 4, seed=0, include_mode=True)  # doctest: +SKIP
    """
    _check_size(m)
    space, distribution = learnt_distribution(run_dir)
    draws = m - 1 if include_mode else m
    rows = distribution.sample(draws, torch.Generator().manual_seed(seed)).tolist() if draws else []
    mode = [distribution.mode().tolist()] if include_mode else []
    return [space.from_choices(choices) for choices in mode + rows]


def random_ensemble(space: Space, m: int, seed: int) -> list[Hashable]:
    """``m`` architectures of ``space`` drawn uniformly over each decision, from a generator seeded with ``seed``.

    Example:
        >>> len(random_ensemble(get_space("darts"), 3, seed=0))
        3
    """
    _check_size(m)
    generator = torch.Generator().manual_seed(seed)
    return [sample_uniform(space, generator) for _ in range(m)]


@dataclass(frozen=True)
class EnsemblePrediction:
    """The averaged softmax outputs of an ensemble over one loader.

    Attributes:
        probs: (N, C) mean of the members' softmax probabilities, on the CPU.
        labels: (N,) the labels, in the loader's order.
        member_accuracy: each member's :func:`~parsecnas.evaluation.topk_accuracy` on the same examples.
    """

    probs: torch.Tensor
    labels: torch.Tensor
    member_accuracy: list[dict[str, float]]

    @property
    def accuracy(self) -> dict[str, float]:
        """The ensemble's top-1 and top-5 accuracy (top-5 NaN with <= 5 classes)."""
        return topk_accuracy(self.probs, self.labels)


def ensemble_probabilities(nets: Iterable[torch.nn.Module], loader: Loader, channels_last: bool = True,
                           amp_dtype: torch.dtype | None = None) -> EnsemblePrediction:
    """Averages the members' softmax probabilities over ``loader``, one network in memory at a time.

    ``loader`` must not shuffle: every member is run over the same examples in the same order, and a member
    whose pass yields different labels raises ``ValueError``.
    """
    total: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    member_accuracy = []
    for i, net in enumerate(nets):
        batches = list(iter_logits(net, loader, channels_last, amp_dtype))
        probs = torch.cat([logits.softmax(dim=1) for logits, _ in batches])
        seen = torch.cat([y for _, y in batches])
        if labels is None:
            labels, total = seen, torch.zeros_like(probs)
        elif not torch.equal(seen, labels):
            raise ValueError(f"member {i} was evaluated on other examples than member 0; the loader must keep a "
                             "fixed order (LoaderConfig.for_evaluation)")
        assert total is not None
        total += probs
        member_accuracy.append(topk_accuracy(probs, seen))
    if total is None or labels is None:
        raise ValueError("an ensemble needs at least one network")
    return EnsemblePrediction((total / len(member_accuracy)).cpu(), labels.cpu(), member_accuracy)


def train_ensemble(architectures: Sequence[Hashable], config: TrainConfig, run_dir: str | Path, *,
                   mode_first: bool = False, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Trains each architecture from scratch into ``run_dir/member-<i>`` and scores their averaged softmax.

    Member ``i`` is trained by :func:`~parsecnas.train.train_genotype` with ``config`` and seed
    ``config.seed + i``; when resuming, finished members (``result.json``) are not retrained. Then every
    member's ``model.pt`` is run over the same test examples and the ensemble predicts the mean of their
    softmax probabilities. Returns (and writes to ``ensemble.json``) the members' and the ensemble's test errors
    in percent; top-5 errors are ``None`` with 5 classes or fewer.

    Args:
        architectures: DARTS-space genotypes (or anything :func:`~parsecnas.spaces.resolve_genotype` reads).
        config: the training protocol of every member.
        run_dir: the ensemble's directory.
        mode_first: member 0 is the search's mode; its error is then reported as ``mode_error_pct``.
        resume: continue an interrupted ensemble.
        progress: show each member's progress bar.
    """
    genotypes = _as_genotypes(architectures)
    root = Path(run_dir)
    if resume and not any(Run(root / f"member-{i}").exists() for i in range(len(genotypes))):
        raise RunError(f"nothing to resume in {root}: it holds no ensemble member run (looked for "
                       f"{root / 'member-0' / 'config.yaml'} ...); check the directory name, or drop --resume")
    results = [_train_member(g, replace(config, seed=config.seed + i), root / f"member-{i}", resume, progress)
               for i, g in enumerate(genotypes)]
    device = resolve_device(config.device)
    test = evaluation_loader(load_dataset(config.dataset, config.data_dir), config, device)
    nets = _load_members([root / f"member-{i}" for i in range(len(genotypes))], device, config.channels_last)
    prediction = ensemble_probabilities(nets, test, config.channels_last, autocast_dtype(device, config.amp))
    summary = _summary(genotypes, results, prediction, config, mode_first)
    if Distributed.current().is_main:  # under torchrun the members trained on every rank; rank 0 writes
        Run(root).write_json("ensemble.json", summary)
    return summary


def _as_genotypes(architectures: Sequence[Hashable]) -> list[Genotype]:
    if not architectures:
        raise ValueError("an ensemble needs at least one architecture, got none")
    genotypes = []
    for i, arch in enumerate(architectures):
        try:
            genotypes.append(resolve_genotype(arch if isinstance(arch, Genotype) else str(arch)))
        except (ValueError, FileNotFoundError):
            raise ValueError(f"ensemble member {i} ({str(arch)[:70]!r}) is not a DARTS-space genotype; training "
                             "from scratch builds DARTS-space networks only (a NAS-Bench-201 cell's trained "
                             "accuracies are in its benchmark table)") from None
    return genotypes


def _train_member(genotype: Genotype, config: TrainConfig, member_dir: Path, resume: bool,
                  progress: bool) -> dict[str, Any]:
    if resume and (member_dir / "result.json").is_file():
        result: dict[str, Any] = Run(member_dir).read_json("result.json")
        if Genotype.from_dict(result["genotype"]) != genotype:
            raise ValueError(f"cannot resume: {member_dir} holds a different architecture than the one given "
                             f"({result['genotype']}); resume with the same architectures or a new run directory")
        return result
    return train_genotype(genotype, config, member_dir, resume=resume and Run(member_dir).exists(),
                          progress=progress)


def _load_members(paths: Sequence[Path], device: torch.device, channels_last: bool) -> Iterator[torch.nn.Module]:
    memory = torch.channels_last if channels_last else torch.contiguous_format
    for path in paths:
        yield load_model(path, device).to(memory_format=memory)  # type: ignore[call-overload]


def _finite(value: float) -> float | None:
    """``value``, or ``None`` (JSON null) where it is NaN."""
    return None if math.isnan(value) else value


def _errors(accuracy: dict[str, float]) -> dict[str, float | None]:
    return {"test_error_pct": 100 * (1 - accuracy["top1"]),
            "test_top5_error_pct": _finite(100 * (1 - accuracy["top5"]))}


def _summary(genotypes: Sequence[Genotype], results: Sequence[dict[str, Any]], prediction: EnsemblePrediction,
             config: TrainConfig, mode_first: bool) -> dict[str, Any]:
    members = [{"member": i, "architecture": str(g), "seed": r["seed"], "params_m": r["params_m"],
                **_errors(accuracy)}
               for i, (g, r, accuracy) in enumerate(zip(genotypes, results, prediction.member_accuracy))]
    errors = [float(m["test_error_pct"]) for m in members]
    return {
        "size": len(members),
        "dataset": config.dataset,
        "test_examples": int(prediction.labels.numel()),
        **_errors(prediction.accuracy),
        "mean_member_error_pct": sum(errors) / len(errors),
        "mode_error_pct": errors[0] if mode_first else None,
        "members": members,
    }


__all__ = ["EnsemblePrediction", "ensemble_probabilities", "learnt_distribution", "random_ensemble", "run_space",
           "sample_ensemble", "train_ensemble"]
