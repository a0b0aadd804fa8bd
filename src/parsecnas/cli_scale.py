"""``parsecnas scale``: compound scaling of a network (EfficientNet): a grid search of (alpha, beta, gamma) at
phi = 1, then the network scaled by ``--phi`` (the library call is :func:`parsecnas.scaling.scale`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["add_parsers", "run_scale", "scale_epilog"]


def _config(args: argparse.Namespace, overrides: Sequence[str]) -> Any:
    """The ``ScaleConfig``: the family's defaults for SOURCE (a resumed run's stored config), a ``--config``
    file, then ``--grid`` and the ``--key=value`` fields."""
    from .config import load_config, read_yaml, stored_config
    from .scaling import ScaleConfig, scalable_entry

    kind = next((o.split("=", 1)[1].strip("'\"") for o in overrides if o.startswith("kind=")), "genotype")
    base = ScaleConfig(kind=kind, net=scalable_entry(kind).default_config(args.source))
    stored = Path(args.run_dir or "") / "config.yaml"
    if args.resume and args.config is None and args.run_dir and stored.is_file():
        data = read_yaml(stored, "stored config", "the run's own config.yaml")
        base = stored_config(ScaleConfig, data, f"the stored config of {args.run_dir}", drop=("source", "network"))
    grid = [f"{name}={tuple(args.grid)!r}" for name in ("alphas", "betas", "gammas")] if args.grid else []
    return load_config(ScaleConfig, args.config, [*grid, *overrides], base=base)


def run_scale(args: argparse.Namespace, overrides: Sequence[str], run_dir: str) -> int:
    """Runs (or resumes) the coefficient search for SOURCE, prints each candidate, the table per phi and the
    command that trains the scaled network; ``cli.cmd_scale`` parses ``overrides`` and names ``run_dir``."""
    from .config import to_dict
    from .scaling import scale

    config = _config(args, overrides)
    if args.print_config:
        import yaml

        print(yaml.safe_dump(to_dict(config), sort_keys=False), end="")
        return 0
    args.run_dir = run_dir  # named in the message of an interrupt
    grid = config.grid()
    if not args.quiet:
        print(f"compound scaling of {args.source} ({config.kind}): {len(grid)} feasible (alpha, beta, gamma) with "
              f"alpha * beta^2 * gamma^2 within {config.tolerance:.0%} of {config.target:g}, each trained "
              f"{config.search_epochs} epoch(s) x {config.search_steps_per_epoch or 'all'} steps; run in {run_dir}",
              flush=True)

    def show(record: dict[str, Any]) -> None:
        if not args.quiet:
            score = (f"val accuracy {record['val_accuracy']:.4f}" if record["val_accuracy"] is not None
                     else "skipped: multiply-adds too far from the target")
            print(f"  candidate {record['candidate']}: alpha {record['alpha']:g} beta {record['beta']:g} gamma "
                  f"{record['gamma']:g} -> {_size(record)}, {record['madds_m']:.2f}M multiply-adds "
                  f"(x{record['madds_ratio']:.2f}), {score}", flush=True)

    result = scale(args.source, config, run_dir, resume=args.resume, on_candidate=show)
    c = result["coefficients"]
    print(f"\nchosen: alpha {c['alpha']:g}, beta {c['beta']:g}, gamma {c['gamma']:g} "
          f"(alpha * beta^2 * gamma^2 = {result['product']:.3f})")
    print(_table(result["table"]))
    print(f"\nscale.json: {run_dir}/scale.json")
    if result["train_command"]:
        print(f"train the phi = {result['phi']:g} network with:\n  {result['train_command']}")
    else:  # no training command for this kind: the fields that make the network
        settings = {k: v for k, v in result["scaled"].items() if k in result["base"] and k not in _AXES}
        print(f"the phi = {result['phi']:g} network: " + " ".join(f"{k}={_setting(v)}" for k, v in settings.items()))
    return 0


_AXES = ("depth", "width", "resolution")


def _setting(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _size(row: dict[str, Any]) -> str:
    return f"depth {row['depth']}, width {row['width']}, resolution {row['resolution']}"


def _table(rows: list[dict[str, Any]]) -> str:
    accuracy = any("val_accuracy" in r for r in rows)
    head = f"{'phi':>5} {'depth':>6} {'width':>6} {'res':>5} {'params M':>9} {'madds M':>9} {'predicted':>10} " \
           f"{'actual':>7}" + (f" {'val acc':>8}" if accuracy else "")
    lines = [head]
    for r in rows:
        predicted, actual = f"x{r['predicted_ratio']:.2f}", f"x{r['actual_ratio']:.2f}"
        lines.append(f"{r['phi']:>5g} {r['depth']:>6} {r['width']:>6} {r['resolution']:>5} {r['params_m']:>9.4f} "
                     f"{r['madds_m']:>9.2f} {predicted:>10} {actual:>7}"
                     + (f" {r.get('val_accuracy', float('nan')):>8.4f}" if accuracy else ""))
    return "\n".join(lines)


def scale_epilog() -> str:
    """The ``scale --help`` settings: every ``ScaleConfig`` field, the base network's (genotype kind) among them."""
    from .config_help import config_help
    from .scaling import ScaleConfig, list_scalable, scalable_entry

    kinds = "; ".join(f"{k}: {scalable_entry(k).summary}" for k in list_scalable())
    return (f"kinds of network: {kinds}\n\nsettings (set any with --key=value; the base network's by their own "
            f"name, e.g. --num-cells=8 --channels=16 --dataset=fashion-mnist-small):\n{config_help(ScaleConfig())}")


def add_parsers(sub: Any, command: Callable[[argparse.Namespace, Sequence[str]], int], epilog: str | None) -> None:
    """The ``scale`` sub-command on the CLI's sub-parsers, run by ``command``."""
    p = sub.add_parser("scale", help="compound scaling (EfficientNet): grid-search depth/width/resolution "
                                     "coefficients at phi = 1, then scale a network by --phi",
                       allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=epilog)
    p.add_argument("source", help="the base network: a published genotype name, genotype JSON file, search run "
                                  "directory or string (kind genotype)")
    p.add_argument("--grid", type=float, nargs="+", metavar="V",
                   help="the values tried for each of alpha, beta and gamma (else --alphas=(..) --betas=(..) "
                        "--gammas=(..); default alphas 1.0-2.0, betas and gammas 1.0-1.4)")
    p.add_argument("--config", help="YAML file of ScaleConfig fields")
    p.add_argument("--run-dir", help="run directory (default runs/scale-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the search in --run-dir (a larger --phi too)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit")
    p.set_defaults(func=command)
