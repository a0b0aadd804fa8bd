"""The coefficient search and the scaled network (``parsecnas scale``), for any :class:`ScalableNet`.

As in EfficientNet: at ``phi = 1`` every feasible ``(alpha, beta, gamma)`` of a small grid (``alpha * beta^2 *
gamma^2`` within ``tolerance`` of 2) scales the base network, each candidate trains for the same short budget and
is scored on held-out training images; the best coefficients then scale the base by the user's ``phi``.
Candidates that round to the same network share one training. Rounding is coarse on small networks (C = 8 times
1.1 is still 8), so a point whose *rounded* network's multiply-adds miss ``target`` times the base's by more than
``madds_tolerance`` does not compete: it would win or lose by its compute, not by its balance of the three axes.

The run directory holds ``config.yaml``, one ``metrics.jsonl`` record per candidate (its coefficients, size,
parameters, multiply-adds, predicted and actual multiply-add ratio, validation accuracy), each candidate's own
training run in ``candidate-NNN/`` and, last, ``scale.json``: the chosen coefficients, the scaled network's
settings and costs for ``phi = 0, 1, ..`` and the user's ``phi``, and the command that trains it. A killed search
resumes (``resume=True``): finished candidates are read back, the interrupted one continues from its checkpoint,
so the choice is the one an uninterrupted search makes. ``phi`` is not part of the stored search: resuming a
finished one with another ``phi`` gives that network at once, without training anything (unless
``evaluate_scaled`` asks for networks not trained yet).

Example:
    >>> from parsecnas.train import TrainConfig
    >>> net = TrainConfig(dataset="fashion-mnist-small", num_cells=5, channels=8, epochs=1)
    >>> scale("DARTS_V2", ScaleConfig(phi=2, net=net), "/tmp/parsecnas-scale-doc")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import check_finite, fill_typed_fields, to_dict, typed_by
from ..run import Run
from .base import (
    Coefficients,
    Dims,
    Rounding,
    ScalableNet,
    feasible_grid,
    list_scalable,
    scalable_config_type,
    scalable_entry,
)

__all__ = ["ScaleConfig", "phis", "scale"]

CandidateHook = Callable[[dict[str, Any]], None]
"""Sees each candidate's record once it is logged (for printing)."""


@dataclass(frozen=True)
class ScaleConfig:
    """A compound-scaling run: the grid, the rounding, the short training budget and the base network.

    Attributes:
        kind: the network family (``parsecnas.scaling.list_scalable()``; ``genotype``: a DARTS evaluation network).
        phi: the compound coefficient the chosen (alpha, beta, gamma) scale the base by: multiply-adds grow about
            ``target^phi``; 0 is the base itself.
        alphas: the grid's depth factors (each >= 1).
        betas: the grid's width factors (each >= 1).
        gammas: the grid's resolution factors (each >= 1).
        target: what ``alpha * beta^2 * gamma^2`` must be near (EfficientNet: 2, so FLOPs double per unit of phi).
        tolerance: how near, relatively: ``|alpha * beta^2 * gamma^2 / target - 1| <= tolerance``.
        channel_divisor: scaled widths are multiples of this (EfficientNet's rule: nearest, never below 90%).
        resolution_divisor: scaled image sides are multiples of this.
        madds_tolerance: a candidate competes only when its *rounded* network's multiply-adds are within this
            (relatively) of ``target`` times the base's, so that rounding (coarse on small networks) gives no
            candidate more or less compute than the others; ``None``: every feasible point competes.
        search_epochs: epochs each candidate (and each ``evaluate_scaled`` network) trains.
        search_steps_per_epoch: cap on their steps per epoch (``None``: one pass over the training images).
        evaluate_scaled: also train the network of each ``phi`` in the table at the same budget (``phi-P/``) and
            report its validation accuracy.
        net: the base network and its training recipe, of the family's config type (``genotype``: a
            ``TrainConfig``; set its fields by name, ``--num-cells=8 --channels=16 --dataset=...``).
    """

    kind: str = "genotype"
    phi: float = 1.0
    alphas: tuple[float, ...] = (1.0, 1.2, 1.4, 1.6, 1.8, 2.0)
    betas: tuple[float, ...] = (1.0, 1.1, 1.2, 1.3, 1.4)
    gammas: tuple[float, ...] = (1.0, 1.1, 1.2, 1.3, 1.4)
    target: float = 2.0
    tolerance: float = 0.05
    channel_divisor: int = 4
    resolution_divisor: int = 4
    madds_tolerance: float | None = 0.15
    search_epochs: int = 1
    search_steps_per_epoch: int | None = 100
    evaluate_scaled: bool = False
    net: Any = field(default=None, metadata=typed_by("kind", scalable_config_type, list_scalable))

    def __post_init__(self) -> None:
        check_finite(self)
        fill_typed_fields(self)
        object.__setattr__(self, "phi", float(self.phi))
        for name in ("alphas", "betas", "gammas"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))
        if self.phi < 0:
            raise ValueError(f"phi must be >= 0 (0: the base network; multiply-adds grow about {self.target:g}^phi), "
                             f"got {self.phi}")
        if self.target <= 1 or not 0 <= self.tolerance < 1:
            raise ValueError(f"need target > 1 and tolerance in [0, 1); got {self.target}, {self.tolerance}")
        if self.channel_divisor < 1 or self.resolution_divisor < 1 or self.search_epochs < 1:
            raise ValueError(f"channel_divisor, resolution_divisor and search_epochs must be >= 1; got "
                             f"{self.channel_divisor}, {self.resolution_divisor}, {self.search_epochs}")
        if self.madds_tolerance is not None and self.madds_tolerance < 0:
            raise ValueError(f"madds_tolerance must be >= 0 or unset, got {self.madds_tolerance}")
        if self.search_steps_per_epoch is not None and self.search_steps_per_epoch < 1:
            raise ValueError(f"search_steps_per_epoch must be >= 1 or unset, got {self.search_steps_per_epoch}")
        self.grid()  # an infeasible grid is refused here, before anything runs

    def grid(self) -> list[Coefficients]:
        """The feasible points of the grid, in order (see :func:`~parsecnas.scaling.base.feasible_grid`)."""
        return feasible_grid(self.alphas, self.betas, self.gammas, self.target, self.tolerance)

    @property
    def rounding(self) -> Rounding:
        return Rounding(self.channel_divisor, self.resolution_divisor)


def phis(phi: float) -> list[float]:
    """The table's compound coefficients: ``0, 1, .., floor(phi)`` and ``phi`` itself."""
    return sorted({float(k) for k in range(int(math.floor(phi)) + 1)} | {float(phi)})


def scale(source: str, config: ScaleConfig, run_dir: str | Path, *, resume: bool = False,
          on_candidate: CandidateHook | None = None) -> dict[str, Any]:
    """Searches the coefficients for the network ``source`` names (a genotype, ...) and scales it by
    ``config.phi``; returns (and writes) ``scale.json``."""
    net = scalable_entry(config.kind).factory(source, config.net)
    base = net.base()
    base_madds = net.cost(base).madds
    candidates = _candidates(net, config, base_madds)  # refused before any file is written: nothing to train
    run = Run(run_dir)
    with run.lock(resume=resume):
        stored = {k: v for k, v in to_dict(config).items() if k != "phi"}  # the search does not depend on phi
        run.create({"source": source, "network": net.describe(), **stored}, resume=resume)
        records = _search(net, config, candidates, run, on_candidate)
        best = max((r for r in records if r["val_accuracy"] is not None), key=lambda r: r["val_accuracy"])
        chosen = Coefficients(best["alpha"], best["beta"], best["gamma"])  # the first of equals: grid order
        table = [_row(net, config, chosen, p, base_madds, run, records) for p in phis(config.phi)]
        final = next(row for row in table if row["phi"] == config.phi)
        dims = Dims(final["depth"], final["width"], final["resolution"])
        result = {"source": source, "kind": config.kind, "coefficients": chosen.to_dict(),
                  "product": chosen.product, "phi": config.phi, "base": {**base.to_dict(), **net.settings(base)},
                  "scaled": final, "train_command": net.command(dims), "table": table,
                  "candidates": records}
        run.write_json("scale.json", result)
        return result


def _candidates(net: ScalableNet, config: ScaleConfig, base_madds: int) -> list[dict[str, Any]]:
    """Each feasible point's network at ``phi = 1`` (size, settings, costs) and whether it competes: its actual
    multiply-add ratio within ``madds_tolerance`` of ``target`` (ValueError when none does)."""
    out = []
    for i, coefficients in enumerate(config.grid()):
        dims = net.scaled(*coefficients.multipliers(1.0), config.rounding)
        cost = net.cost(dims)
        ratio = cost.madds / base_madds
        fair = config.madds_tolerance is None or abs(ratio / config.target - 1) <= config.madds_tolerance
        out.append({"candidate": i, **coefficients.to_dict(), "product": coefficients.product, **dims.to_dict(),
                    **net.settings(dims), "params_m": cost.params / 1e6, "madds_m": cost.madds / 1e6,
                    "madds_ratio": ratio, "competes": fair})
    if not any(c["competes"] for c in out):
        ratios = ", ".join(sorted({f"x{c['madds_ratio']:.2f}" for c in out}))
        raise ValueError(f"no candidate's rounded network has multiply-adds within {config.madds_tolerance:.0%} of "
                         f"x{config.target:g} the base's (they have {ratios}): the base is too small for the "
                         "rounding; lower channel_divisor / resolution_divisor, enlarge the base, or raise "
                         "madds_tolerance")
    return out


def _search(net: ScalableNet, config: ScaleConfig, candidates: list[dict[str, Any]], run: Run,
            on_candidate: CandidateHook | None) -> list[dict[str, Any]]:
    """Every candidate's record (``val_accuracy`` None for one that does not compete): those logged already (a
    resumed search) and the rest, trained now; candidates of the same size share one training."""
    done = {int(r["candidate"]): r for r in run.metrics() if "candidate" in r}
    records: list[dict[str, Any]] = []
    for candidate in candidates:
        i = candidate["candidate"]
        if i in done:
            records.append(done[i])
            continue
        dims = Dims(candidate["depth"], candidate["width"], candidate["resolution"])
        twin = _twin(records, dims)
        if not candidate["competes"]:
            score, run_name = None, None
        elif twin is not None:
            score, run_name = twin["val_accuracy"], twin["run_dir"]
        else:
            run_name = f"candidate-{i:03d}"
            score = float(_trained(net, config, dims, run.path_of(run_name))["val_accuracy"])
        record = {**candidate, "val_accuracy": score, "run_dir": run_name}
        run.log(record)
        records.append(record)
        if on_candidate is not None:
            on_candidate(record)
    return records


def _trained(net: ScalableNet, config: ScaleConfig, dims: Dims, path: Path) -> dict[str, Any]:
    """The short training's result in ``path``: read back when it finished, resumed when it was cut off."""
    trained = Run(path)
    if (path / "result.json").is_file():
        return dict(trained.read_json("result.json"))
    return net.train(dims, path, config.search_epochs, config.search_steps_per_epoch, resume=trained.exists())


def _row(net: ScalableNet, config: ScaleConfig, chosen: Coefficients, phi: float, base_madds: int, run: Run,
         records: list[dict[str, Any]]) -> dict[str, Any]:
    """One line of the table: the network at ``phi``, its costs, predicted and actual multiply-add ratios (and,
    with ``evaluate_scaled``, its short-budget validation accuracy: a candidate's when it is the same network)."""
    dims = net.scaled(*chosen.multipliers(phi), config.rounding)
    cost = net.cost(dims)
    row = {"phi": phi, **dims.to_dict(), **net.settings(dims), "params_m": cost.params / 1e6,
           "madds_m": cost.madds / 1e6, "predicted_ratio": chosen.product ** phi,
           "target_ratio": config.target ** phi, "actual_ratio": cost.madds / base_madds}
    if config.evaluate_scaled:
        twin = _twin([r for r in records if r["val_accuracy"] is not None], dims)
        row["val_accuracy"] = float(twin["val_accuracy"] if twin is not None else
                                    _trained(net, config, dims, run.path_of(f"phi-{phi:g}"))["val_accuracy"])
    return row


def _twin(records: list[dict[str, Any]], dims: Dims) -> dict[str, Any] | None:
    """The first record of a network of size ``dims``, if any."""
    return next((r for r in records if (r["depth"], r["width"], r["resolution"]) ==
                 (dims.depth, dims.width, dims.resolution)), None)
