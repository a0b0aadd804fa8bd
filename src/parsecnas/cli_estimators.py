"""``parsecnas proxies``, ``parsecnas halving`` and ``parsecnas profile``: zero-cost proxies, successive halving /
Hyperband and latency lookup tables from the command line (the library calls are
:func:`parsecnas.estimators.proxies.compute_proxies`, :class:`~parsecnas.estimators.multifidelity.SuccessiveHalving`,
:class:`~parsecnas.estimators.multifidelity.Hyperband` and :func:`parsecnas.estimators.latency.profile_latency`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import ConfigError

__all__ = ["add_parsers", "cmd_halving", "cmd_profile", "cmd_proxies"]


def cmd_proxies(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """Scores ``--archs`` architectures drawn uniformly from a space with zero-cost proxies on one minibatch;
    where the space has a table, also each proxy's Spearman correlation with the table's test accuracy."""
    import torch

    from .data import Loader, LoaderConfig, load_dataset
    from .estimators.proxies import PROXIES, build_seeded, compute_proxies, spearman
    from .estimators.tabular import table_record
    from .spaces import get_space
    from .spaces.base import sample_uniform

    if extra:
        raise ConfigError(f"unrecognised arguments {list(extra)}")
    if args.archs < 2:
        raise ConfigError(f"--archs {args.archs}: score at least 2 architectures")
    for flag, value, low in (("--batch-size", args.batch_size, 1), ("--num-cells", args.num_cells, 1),
                             ("--channels", args.channels, 2)):
        if value is not None and value < low:
            raise ConfigError(f"{flag} {value}: give an integer >= {low}")
    names = args.names or list(PROXIES)
    unknown = [n for n in names if n not in PROXIES]
    if unknown:
        raise ConfigError(f"unknown proxies {unknown}; valid: {', '.join(PROXIES)}")
    space, ds = get_space(args.space), load_dataset(args.dataset, args.data_dir)
    gen = torch.Generator().manual_seed(args.seed)
    archs = list(dict.fromkeys(sample_uniform(space, gen) for _ in range(args.archs)))
    batch = Loader.from_dataset(ds, "train", torch.randperm(len(ds.train_labels), generator=gen)[:args.batch_size],
                                LoaderConfig.for_evaluation(args.batch_size)).next_batch()
    options = {"num_classes": ds.num_classes, "in_channels": ds.in_channels, **_net_options(args)}
    rows = []
    for k, arch in enumerate(archs):
        net = build_seeded(space, arch, seed=args.seed, **options)
        rows.append({"arch": space.to_plain(arch), **compute_proxies(net, *batch, names, seed=args.seed)})
        if not args.quiet:
            print(f"  {k + 1}/{len(archs)} scored", flush=True)
    summary: dict[str, Any] = {"space": space.name, "dataset": ds.name, "archs": len(archs), "seed": args.seed,
                               "batch_size": args.batch_size}
    record = table_record(space.name)
    if record is not None:
        try:
            target = [float(record(arch, ds.name, args.data_dir)["test_accuracy"]) for arch in archs]
        except FileNotFoundError as err:
            print(f"  no table correlations: {err}")
        else:
            summary["spearman_with_table_test_accuracy"] = {
                n: spearman(*_finite([r[n] for r in rows], target)) for n in names}
    if args.out:
        from .run.atomic import atomic_write_text

        atomic_write_text(args.out, json.dumps({**summary, "scores": rows}, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


def _finite(scores: list[float], target: list[float]) -> tuple[list[float], list[float]]:
    keep = [i for i, s in enumerate(scores) if math.isfinite(s)]
    return [scores[i] for i in keep], [target[i] for i in keep]


def _net_options(args: argparse.Namespace) -> dict[str, Any]:
    """The network size of each scored architecture (the space's own defaults unless given)."""
    out: dict[str, Any] = {}
    if args.num_cells is not None:
        out["num_cells"] = args.num_cells
    if args.channels is not None:
        out["channels"] = args.channels
    return out


def cmd_halving(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """Successive halving or Hyperband over NAS-Bench-201 cells, with the table's 12- and 200-epoch results as
    the two fidelities; prints the incumbent and the cost in training epochs against evaluating every
    candidate fully."""
    import torch

    from .estimators.multifidelity import Hyperband, NB201Fidelity, SuccessiveHalving
    from .run.ray_pool import RayPool, sequential_map
    from .spaces import get_space
    from .spaces.base import sample_uniform

    if extra:
        raise ConfigError(f"unrecognised arguments {list(extra)}")
    if args.candidates < 1:
        raise ConfigError(f"--candidates {args.candidates}: give at least 1")
    if not (math.isfinite(args.scale) and args.scale > 0):
        raise ConfigError(f"--scale {args.scale}: give a finite number > 0 (bracket sizes are scaled by it)")
    space, gen = get_space("nb201"), torch.Generator().manual_seed(args.seed)
    estimator = NB201Fidelity(args.dataset, args.select, data_dir=args.data_dir)

    def sample(n: int) -> list[Any]:
        return [sample_uniform(space, gen) for _ in range(n)]

    fidelities = NB201Fidelity.FIDELITIES
    pool = RayPool(args.ray_address) if args.ray or args.ray_address else None
    mapper = sequential_map if pool is None else pool.map  # a rung's evaluations as Ray tasks; the same result
    with pool or contextlib.nullcontext():
        if args.method == "sh":
            result = SuccessiveHalving(fidelities, args.eta).run(sample(args.candidates), estimator, mapper)
            drawn = args.candidates
        else:
            hyperband = Hyperband(fidelities, args.eta, args.scale)
            result, drawn = hyperband.run(sample, estimator, mapper), sum(hyperband.bracket_sizes())
    best = result.best_result
    out = {"method": args.method, "dataset": estimator.dataset, "select": args.select, "eta": args.eta,
           "seed": args.seed, "candidates_drawn": drawn, "evaluations": len(result.evaluations),
           "best_arch": space.format(result.best_arch), "best_valid_accuracy": best.valid_accuracy,
           "best_test_accuracy": best.test_accuracy, "cost_epochs": result.cost,
           "cost_of_full_evaluation_epochs": drawn * fidelities[-1]}
    if args.out:
        from .run.atomic import atomic_write_text

        atomic_write_text(args.out, json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))
    return 0


def cmd_profile(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """Measures a latency lookup table of a space's network setting on this device and writes it as JSON."""
    import ast

    from .estimators.latency import profile_latency
    from .run.resources import resolve_device
    from .spaces import get_space

    if extra:
        raise ConfigError(f"unrecognised arguments {list(extra)}; network options are given as --net KEY=VALUE")
    options = {}
    for item in args.net:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--net {item!r}: give KEY=VALUE, e.g. --net num_cells=8")
        try:
            options[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            options[key] = value
    space = get_space(args.space)
    setting = space.net_setting(args.setting, **options)
    try:
        table = profile_latency(space, setting, resolve_device(args.device), args.batch, args.warmup, args.repeats,
                                args.fixed_archs, clock=args.clock)
    except TypeError as err:  # a --net option the space's networks do not take
        if "unexpected keyword argument" not in str(err):
            raise
        raise ConfigError(f"--net: {str(err).split('(')[0]}{str(err).split(')', 1)[-1]}; the network options of "
                          f"the {args.space} space are its build arguments (e.g. num_cells, channels)") from None
    out = table.save(args.out or f"latency-{args.space}-{args.setting}.json")
    print(f"{len(table.ops)} op sites timed on {table.device} (batch {table.batch}); fixed part {table.fixed:.3f} ms "
          f"(median of {len(table.fixed_samples)} networks); written to {out}")
    return 0


def add_parsers(sub: Any) -> None:
    """The ``proxies`` and ``halving`` sub-commands on the CLI's sub-parsers."""
    p = sub.add_parser("proxies", help="zero-cost proxies of random architectures of a space (rank correlation "
                                       "with the NB201 table where it has one)")
    p.add_argument("--space", default="nb201", help="darts or nb201 (default nb201)")
    p.add_argument("--archs", type=int, default=20, help="architectures drawn uniformly (default 20)")
    p.add_argument("--names", nargs="+", metavar="PROXY", help="proxies to compute (default: all)")
    p.add_argument("--dataset", default="cifar10", help="dataset of the scoring minibatch (default cifar10)")
    p.add_argument("--data-dir")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--num-cells", type=int, help="network size (default: the space's own)")
    p.add_argument("--channels", type=int, help="network width (default: the space's own)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="JSON file of every architecture's scores")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_proxies)
    p = sub.add_parser("halving", help="successive halving or Hyperband on NAS-Bench-201 (12 / 200 epochs)")
    p.add_argument("--method", choices=("sh", "hyperband"), default="hyperband")
    p.add_argument("--candidates", type=int, default=27, help="successive halving: cells drawn (default 27)")
    p.add_argument("--eta", type=int, default=3, help="keep the best 1/eta at each rung (default 3)")
    p.add_argument("--scale", type=float, default=1.0, help="Hyperband: bracket sizes scaled by this")
    p.add_argument("--dataset", default="cifar10", help="cifar10, cifar100 or imagenet16")
    p.add_argument("--select", choices=("valid", "test"), default="valid",
                   help="the 200-epoch score searched on (default valid; the 12-epoch rung always uses valid)")
    p.add_argument("--data-dir", help="folder holding benchmarks/nb201-merged/ (else $PARSECNAS_DATA)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="JSON file of the result")
    p.add_argument("--ray", action="store_true", help="evaluate each rung's candidates as parallel Ray tasks (the "
                                                      "ray extra); the same result as in-process")
    p.add_argument("--ray-address", help="an existing Ray cluster for the rungs ('auto', 'ray://head:10001')")
    p.set_defaults(func=cmd_halving)
    p = sub.add_parser("profile", help="measure a latency lookup table of a space's ops on this device (JSON)")
    p.add_argument("--space", default="darts", help="search space (default darts)")
    p.add_argument("--setting", default="cifar10", help="the space's network setting (darts: cifar10, imagenet; "
                                                        "nb201: cifar10, cifar100, imagenet16)")
    p.add_argument("--net", action="append", default=[], metavar="KEY=VALUE",
                   help="a network option overriding the setting's (e.g. --net num_cells=8 --net channels=16)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=20, help="timed runs per op (the median is kept)")
    p.add_argument("--fixed-archs", type=int, default=5, help="random networks timed for the fixed part")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall time (default), or process CPU time (one thread, on a machine shared with other jobs)")
    p.add_argument("--out", help="output file (default latency-SPACE-SETTING.json)")
    p.set_defaults(func=cmd_profile)
