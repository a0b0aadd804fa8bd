"""``parsecnas``: the command line. Each sub-command parses flags into a frozen config and calls the library.

Any config field can be set with ``--key=value`` or ``--sub.key=value`` (values parsed with
``ast.literal_eval``), after an optional ``--config FILE.yaml``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import typing
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .config import ConfigError, load_config, to_dict

EXPORT_FORMATS = ("torchscript", "pt2", "onnx")
"""``parsecnas.export.EXPORT_FORMATS``, spelled here so that ``--help`` does not import torch (a test keeps the
two equal)."""

if TYPE_CHECKING:
    pass

# torch and the library load only once a command runs, so `parsecnas --help` and `--version` answer at once


def _run_dir(kind: str, given: str | None, device: str = "auto") -> str:
    """``given``, or a new time-stamped folder under ``runs/``: rank 0's name on every rank of a torchrun job
    (joined here, on the config's device)."""
    if given:
        return given
    from .run.distributed import from_env
    from .run.resources import resolve_device

    return from_env(resolve_device(device)).broadcast(
        str(Path("runs") / f"{kind}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"))


def _overrides(extra: Sequence[str]) -> list[str]:
    """Config fields given as ``--key=value`` or ``--key value`` (a value may start with one ``-``: ``-1``)."""
    out, bad, items = [], [], list(extra)
    while items:
        item = items.pop(0)
        if item.startswith("--") and "=" in item:
            out.append(item[2:])
        elif item.startswith("--") and items and not items[0].startswith("--"):
            out.append(f"{item[2:]}={items.pop(0)}")
        else:
            bad.append(item)
    if bad:
        raise ConfigError(f"unrecognised arguments {bad}; config fields are set as --key=value or --key value "
                          f"(e.g. --epochs=3 --settings.samples 8; see --help)")
    return out


def _resumed(cls: type, args: argparse.Namespace, base: Any = None) -> Any:
    """With ``--resume`` and no ``--config``, the run's own stored config (flags go over it), so that
    ``--resume --run-dir R`` alone continues R as it was started; else ``base``."""
    from .config import read_yaml, stored_config

    stored = Path(args.run_dir or "") / "config.yaml"
    if not (args.resume and args.config is None and args.run_dir and stored.is_file()):
        return base
    data = read_yaml(stored, "stored config", "the run's own config.yaml")
    # a training run stores its genotype beside the TrainConfig fields
    return stored_config(cls, data, f"the stored config of {args.run_dir}", drop=("genotype",))


def _print_config(config: Any) -> int:
    """``--print-config``: the resolved config as YAML (loadable with ``--config``), and nothing run."""
    import yaml

    print(yaml.safe_dump(to_dict(config), sort_keys=False), end="")
    return 0


def cmd_search(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from .search import SearchConfig, run_search

    overrides = _overrides(extra) + ([f"init_from={args.init_from!r}"] if args.init_from else [])
    overrides += [f"strategy={args.strategy!r}"] if args.strategy else []
    config = load_config(SearchConfig, args.config, overrides, base=_resumed(SearchConfig, args))
    if args.print_config:
        return _print_config(config)
    run_dir = args.run_dir = _run_dir("search", args.run_dir, config.device)  # named if interrupted
    result = run_search(config, run_dir, resume=args.resume, progress=not args.quiet)
    _print_search_summary(result)
    return 0


def _print_search_summary(result: Any) -> None:
    last = result.metrics[-1] if result.metrics else {}
    print(f"\nsearch finished: {result.run_dir}")
    print(f"  derived architecture: {result.architecture}")
    if last:
        entropy = f"   entropy of its belief: {last['entropy']:.2f} nats" if "entropy" in last else ""
        print(f"  held-out accuracy of it with the shared weights: {last.get('mode_accuracy', float('nan')):.4f}"
              + entropy)
    if "table_test_accuracy" in last:
        print(f"  benchmark table test accuracy of the derived cell: {last['table_test_accuracy']:.2f} "
              "(benchmark_lookup.json)")
    top = result.strategy.most_probable(3)
    if top:
        print("  most probable architectures:")
        for rank, (_, p) in enumerate(top, 1):
            print(f"    #{rank}: p = {p:.3g}")
    files = sorted(f.name for f in Path(result.run_dir).iterdir() if f.suffix in (".json", ".png", ".txt"))
    print(f"  files: {', '.join(files)}, metrics.jsonl")
    if result.space.trains_from_scratch:
        print(f"  train it from scratch: parsecnas train {result.run_dir}")


def cmd_bench(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """Black-box search on the NAS-Bench-201 table into a run directory: picks by validation accuracy, reports
    the incumbent's test accuracy; ``--seeds`` runs one per seed and prints their mean and std."""
    from .blackbox_run import BlackBoxConfig, run_blackbox_search, run_blackbox_seeds

    flags = {"strategy": args.strategy, "dataset": args.dataset, "budget": args.budget, "select": args.select,
             "seed": args.seed, "data_dir": args.data_dir, "ray": args.ray or args.ray_async or None,
             "ray_address": args.ray_address, "asynchronous": args.ray_async or None,
             "cost": args.cost, "cost_target": args.cost_target, "cost_constraint": args.cost_constraint,
             "cost_exponent": args.cost_exponent}
    overrides = [f"{k}={v!r}" for k, v in flags.items() if v is not None] + _overrides(extra)
    config = load_config(BlackBoxConfig, args.config, overrides, base=_resumed(BlackBoxConfig, args))
    if args.print_config:
        return _print_config(config)
    run_dir = args.run_dir = _run_dir("bench", args.run_dir)  # named in the message of an interrupt
    if args.seeds:
        summary = run_blackbox_seeds(config, run_dir, args.seeds, resume=args.resume)
        print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))
        print(f"\nresults: {run_dir}/summary.json; each seed's trials: {run_dir}/seed-N/metrics.jsonl")
        return 0
    result = run_blackbox_search(config, run_dir, resume=args.resume)
    print(json.dumps(result, indent=2))
    print(f"\ntrials: {run_dir}/metrics.jsonl (one record per query, with its state); result: {run_dir}/result.json")
    return 0


def cmd_train(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from .train import TrainConfig, protocol_config, search_data

    if args.ensemble is None and not (args.ensemble_random or args.with_mode):
        from .spaces import resolve_genotype

        resolve_genotype(args.genotype)  # a genotype that does not resolve is an error, even with --print-config
    base, inherited = protocol_config(args.protocol), search_data(args.genotype)
    base = _resumed(TrainConfig, args, replace(base, **inherited))
    config = load_config(TrainConfig, args.config, _overrides(extra), base=base)
    if args.print_config:
        return _print_config(config)
    if not args.quiet:
        source = f" (the data of the search run {args.genotype})" if inherited.get("dataset") == config.dataset else ""
        print(f"training with the {args.protocol} protocol on {config.dataset}{source}: {config.num_cells} cells, "
              f"C = {config.channels}, {config.epochs} epochs"
              + (f" x {config.steps_per_epoch} steps" if config.steps_per_epoch else "")
              + f", batch {config.batch_size}; any field can be set with --key=value", flush=True)
    from .cli_train import run_train

    return run_train(args, config, _run_dir)


def cmd_tune(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """Hyper-parameter search of a genotype's training recipe (:mod:`parsecnas.cli_tune`)."""
    from .cli_tune import run_tune

    return run_tune(args, _overrides(extra), _run_dir("tune", args.run_dir))


def cmd_scale(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """Compound scaling of a network (:mod:`parsecnas.cli_scale`)."""
    from .cli_scale import run_scale

    return run_scale(args, _overrides(extra), _run_dir("scale", args.run_dir))


def cmd_demo(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """A few-minute PARSEC search on the shipped dataset, then a short from-scratch training of its mode."""
    from .demo import demo_search_config, demo_train_config
    from .search import SearchConfig, run_search
    from .train import train_genotype

    root = Path(args.run_dir or _run_dir("demo", None))
    config = load_config(SearchConfig, None, _overrides(extra), base=demo_search_config())  # flags go over it
    print(f"1/2  PARSEC search on the built-in {config.data.dataset} "
          f"({config.epochs} epochs x {config.steps_per_epoch} steps, K = {config.settings.samples})")
    result = run_search(config, root / "search", progress=not args.quiet)
    _print_search_summary(result)
    print("\n2/2  training the mode from scratch (short budget)")
    out = train_genotype(result.architecture, demo_train_config(config.data.dataset), root / "train",
                         progress=not args.quiet)
    print(f"\nmode trained from scratch: test accuracy {out['test_accuracy']:.4f} on {config.data.dataset} "
          f"({out['params_m']:.3f}M params); outputs in {root}")
    return 0


def _chosen(argv: Sequence[str], flag: str, default: str) -> str:
    """The value of ``--flag X`` / ``--flag=X`` in ``argv`` (for help that depends on it), else ``default``."""
    for k, item in enumerate(argv):
        if item == flag and k + 1 < len(argv):
            return argv[k + 1]
        if item.startswith(flag + "="):
            return item.split("=", 1)[1]
    return default


def _settings_help(cls: Any, argv: Sequence[str], default: str, **fixed: Any) -> str:
    """The epilog of a command: every config field, with the chosen strategy's settings (``--strategy X``)."""
    from .config_help import config_help

    name = _chosen(argv, "--strategy", default)
    try:
        config = cls(strategy=name, **fixed)
    except (ValueError, TypeError):
        config, name = cls(strategy=default, **fixed), default
    return (f"settings (set any with --key=value or --key value; a nested field by its own name when unique, "
            f"e.g. --batch-size for --data.batch_size; shown for --strategy {name}, give another before --help "
            f"to see its settings):\n{config_help(config)}")


COMMANDS = ("search", "train", "evaluate", "export", "predict", "table", "bench", "profile", "proxies", "halving",
            "tune", "library", "scale", "show", "demo")


def _help_for(argv: Sequence[str]) -> str | None:
    """The command whose ``--help`` is asked for (only its settings are built: they load torch), else None."""
    if not any(a in ("-h", "--help") for a in argv):
        return None
    return next((a for a in argv if a in COMMANDS), None)


def _torch_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torch")
    except PackageNotFoundError:
        return "not installed"


def _search_epilog(argv: Sequence[str]) -> tuple[str, str]:
    from .search import SearchConfig
    from .strategies import list_strategies
    from .strategies.base import strategy_entry

    strategies = "; ".join(f"{n}: {strategy_entry(n).summary}" for n in list_strategies())
    return _settings_help(SearchConfig, argv, "parsec"), strategies


def _train_epilog() -> str:
    from .config_help import config_help
    from .train import TrainConfig

    return "settings (set any with --key=value; defaults of the cifar protocol):\n" + config_help(TrainConfig())


def _bench_epilog(argv: Sequence[str]) -> tuple[str, str]:
    from .blackbox_run import BlackBoxConfig
    from .strategies import list_blackbox

    return _settings_help(BlackBoxConfig, argv, "evolution"), ", ".join(list_blackbox())


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line (the command, the error, where to look) instead of the usage text."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    helped = _help_for(argv)
    search_epilog, strategies = _search_epilog(argv) if helped == "search" else (None, "see search --help")
    bench_epilog, blackbox = _bench_epilog(argv) if helped == "bench" else (None, "see bench --help")
    parser = _Parser(prog="parsecnas", description=__doc__)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {__version__} (torch {_torch_version()})")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    raw = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("search", help="run a weight-sharing search (PARSEC by default)", formatter_class=raw,
                       epilog=search_epilog)
    p.add_argument("--config", help="YAML file of SearchConfig fields")
    p.add_argument("--run-dir", help="run directory (default runs/search-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its checkpoint")
    p.add_argument("--init-from", help="warm-start the distribution from an earlier search run directory, or "
                   "auto: from the nearest datasets' searches in a library (--library=DIR)")
    p.add_argument("--strategy", help=strategies + ". Default parsec; its settings as --key=value (listed "
                   "below); --space=nb201 searches the NAS-Bench-201 cell space with table lookups")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit")
    p.set_defaults(func=cmd_search)
    # no abbreviations: the config field --seed=S must not be read as --seeds S
    p = sub.add_parser("train", help="train a genotype from scratch (DARTS CIFAR or ImageNet protocol)",
                       allow_abbrev=False, formatter_class=raw,
                       epilog=_train_epilog() if helped == "train" else None)
    p.add_argument("genotype", help="published name, genotype JSON file, search run directory or string")
    p.add_argument("--protocol", choices=("cifar", "imagenet"), default="cifar",
                   help="default settings: cifar (20 cells, C=36, 600 epochs) or imagenet (14 cells, C=48, "
                        "250 epochs, label smoothing); --key=value overrides any field")
    p.add_argument("--config", help="YAML file of TrainConfig fields (over the protocol's defaults)")
    p.add_argument("--seeds", type=int, nargs="+", help="train once per seed into RUN_DIR/seed-N; mean +- std")
    p.add_argument("--ray", action="store_true", help="with --seeds: train each seed as a Ray task on a local Ray "
                                                      "instance (the ray extra)")
    p.add_argument("--ray-address", help="with --seeds: an existing Ray cluster for the seeds ('auto', "
                                         "'ray://head:10001')")
    p.add_argument("--ensemble", type=int, metavar="M",
                   help="GENOTYPE is a PARSEC search run: train M architectures sampled from its learnt "
                        "distribution into RUN_DIR/member-i and score their averaged softmax (ensemble.json)")
    p.add_argument("--ensemble-random", action="store_true",
                   help="with --ensemble M: M uniform random architectures of the run's space (the baseline)")
    p.add_argument("--with-mode", action="store_true",
                   help="with --ensemble M: member 0 is the distribution's mode, M - 1 are sampled")
    p.add_argument("--run-dir")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit")
    p.set_defaults(func=cmd_train)
    p = sub.add_parser("bench", help="black-box search on the NAS-Bench-201 table (random, evolution, ...)",
                       allow_abbrev=False, formatter_class=raw,
                       epilog=bench_epilog)
    p.add_argument("--strategy", help=f"black-box strategy (default evolution): {blackbox}; "
                                      "its settings as --settings.key=value")
    p.add_argument("--dataset", help="cifar10 (default), cifar100 or imagenet16")
    p.add_argument("--budget", type=int, help="table queries (default 100)")
    p.add_argument("--select", choices=("valid", "test"), help="the score searched on (default valid)")
    p.add_argument("--seed", type=int)
    p.add_argument("--seeds", type=int, nargs="+", help="one run per seed into RUN_DIR/seed-N; mean +- std")
    p.add_argument("--config", help="YAML file of BlackBoxConfig fields")
    p.add_argument("--run-dir", help="run directory (default runs/bench-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its checkpoint")
    p.add_argument("--data-dir", help="folder holding benchmarks/nb201-merged/ (else $PARSECNAS_DATA)")
    p.add_argument("--ray", action="store_true", help="run each batch's trials as parallel Ray tasks (the ray extra)")
    p.add_argument("--ray-address", help="an existing Ray cluster for the trials ('auto', 'ray://head:10001')")
    p.add_argument("--ray-async", action="store_true",
                   help="Ray without a batch barrier: batch_size trials in flight, each told as it finishes and "
                        "its worker given the next ask (--asynchronous=True); results then depend on timing")
    p.add_argument("--cost", help="fold a cost into the score, MnasNet's acc * (cost / target)^w: nb201:<device> "
                                  "(e.g. nb201:raspi4), params, madds, peak_mem or lut:<file.json>")
    p.add_argument("--cost-target", type=float, help="the cost target T, in the cost's unit (ms, M, MiB)")
    p.add_argument("--cost-constraint", choices=("soft", "hard"),
                   help="soft: w = -0.07 (default); hard: w = 0 within the target, -1 beyond")
    p.add_argument("--cost-exponent", type=float, help="replaces w (<= 0; with hard, the side beyond the target)")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit")
    p.set_defaults(func=cmd_bench)
    from .cli_estimators import add_parsers
    from .cli_models import add_parsers as add_model_parsers

    add_parsers(sub)
    add_model_parsers(sub, EXPORT_FORMATS)
    from .cli_tune import add_parsers as add_tune_parsers

    add_tune_parsers(sub, cmd_tune)
    from .cli_library import add_parsers as add_library_parsers

    add_library_parsers(sub)
    from .cli_elastic import add_parsers as add_elastic_parsers

    add_elastic_parsers(sub, EXPORT_FORMATS)
    from .cli_scale import add_parsers as add_scale_parsers
    from .cli_scale import scale_epilog

    add_scale_parsers(sub, cmd_scale, scale_epilog() if helped == "scale" else None)
    p = sub.add_parser("demo", help="short PARSEC search on the built-in dataset, then train its mode briefly")
    p.add_argument("--run-dir")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args, extra = parser.parse_known_args(argv)
    if args.threads is not None and args.threads < 1:
        print(f"parsecnas: error: --threads {args.threads}: give a number of CPU threads >= 1", file=sys.stderr)
        return 2
    import torch

    from .data.files import ChecksumError
    from .run.checkpoint import CheckpointError
    from .run.distributed import RankError, leave
    from .run.divergence import DivergedError
    from .run.lock import RunLockError
    from .run.rundir import RunError

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # only the CLI touches the global RNG; library code uses its own generators
    other_rank = os.environ.get("RANK", "0") != "0"  # under torchrun, rank 0 alone prints results
    try:
        with open(os.devnull, "w") if other_rank else contextlib.nullcontext(sys.stdout) as out:
            with contextlib.redirect_stdout(out):
                return int(args.func(args, extra))
    except (ConfigError, ValueError, FileNotFoundError, CheckpointError, RunError, RunLockError,
            DivergedError, ChecksumError, ImportError, RankError) as err:
        print(f"parsecnas {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        where = getattr(args, "run_dir", None)
        again = f"; continue with the same command and --resume --run-dir {where}" if where else ""
        print(f"\nparsecnas {args.command}: interrupted; the last checkpoint is kept{again}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the output went to a pipe that closed (`| head`): not an error of the command
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python's own recipe: no flush error at exit
        return 0
    finally:
        leave()  # the torchrun job, when this process joined one


__all__ = ["build_parser", "main", "to_dict"]
