"""The fuzz cases that need no prepared file: every numeric config field with every kind of bad number (generated
from the dataclasses), malformed overrides, and bad flags. Each case is ``(category, name, argv, names)``, with
``names`` the fragment the error must hold. See ``_fuzz_cli.py``."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterator

from parsecnas.blackbox_run import BlackBoxConfig
from parsecnas.search import SearchConfig
from parsecnas.strategies import blackbox_config_type, list_blackbox, list_strategies
from parsecnas.strategies.base import strategy_config_type
from parsecnas.train import TrainConfig

CaseTuple = tuple[str, str, tuple[str, ...], str]

ABOVE = {  # fields with an upper bound -> a value just past it
    "search_fraction": "1.0", "momentum": "1.0", "drop_path": "1.0", "label_smoothing": "1.0", "lr_decay": "1.5",
    "crossover_prob": "1.5", "swapping_prob": "1.5", "mutation_prob": "1.5", "baseline_decay": "1.0",
    "warmup_fraction": "1.5", "proposal_eps": "1.5", "entropy_floor": "1.5", "min_weight": "1.5",
    "arch_betas": "(0.5, 1.0)",
}


def numeric_fields(cls: type, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted name, "int" | "float" | "floats")`` of every numeric field of ``cls`` and its nested configs
    (not its strategy ``settings``, which are fuzzed per strategy)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp, text = hints[f.name], str(hints[f.name])
        nested = f.default_factory if f.default_factory is not dataclasses.MISSING else None
        if nested is not None and dataclasses.is_dataclass(nested):
            yield from numeric_fields(nested, f"{prefix}{f.name}.")  # type: ignore[arg-type]
        elif text.startswith("tuple[float"):
            yield f"{prefix}{f.name}", "floats"
        elif tp is float or "float" in text:
            yield f"{prefix}{f.name}", "float"
        elif (tp is int or "int" in text) and "Literal" not in text:
            yield f"{prefix}{f.name}", "int"


def bad_values(name: str, kind: str) -> Iterator[tuple[str, str]]:
    """``(label, override text)`` of the bad values tried on one field."""
    if kind == "floats":
        yield from (("nan", "(nan, 0.999)"), ("inf", "(0.5, inf)"), ("one item", "(0.5,)"), ("text", "abc"))
    else:
        if kind == "float":
            yield from (("nan", "nan"), ("inf", "inf"), ("-inf", "-inf"), ("1e400", "1e400"))
        else:
            yield from (("fraction", "2.5"), ("bool", "True"))
        yield from (("negative", "-1"), ("text", "abc"), ("list", "[1]"))
    if name.rsplit(".", 1)[-1] in ABOVE:
        yield "above range", ABOVE[name.rsplit(".", 1)[-1]]


def _field_cases(category: str, command: tuple[str, ...], fields: Iterator[tuple[str, str]], flag: str
                 ) -> Iterator[CaseTuple]:
    for name, kind in fields:
        for label, text in bad_values(name, kind):
            key = name.rsplit(".", 1)[-1]
            yield category, f"{' '.join(command)} {flag}{name}={label}", (*command, f"--{flag}{name}={text}"), key


def config_cases() -> Iterator[CaseTuple]:
    """Every numeric field of the search, training and black-box configs and of every strategy's settings."""
    printed = ("--print-config",)
    configs = ((("search",), SearchConfig), (("train", "DARTS_V2"), TrainConfig), (("bench",), BlackBoxConfig))
    for command, cls in configs:
        yield from _field_cases("config fields", (*command, *printed), numeric_fields(cls), "")
    strategies = [("search", s, strategy_config_type(s)) for s in list_strategies()]
    strategies += [("bench", s, blackbox_config_type(s)) for s in list_blackbox()]
    for command, strategy, settings in strategies:
        if settings is not None:
            argv = (command, "--strategy", strategy, *printed)
            yield from _field_cases("strategy settings", argv, numeric_fields(settings), "settings.")
    yield from _choice_cases()
    yield from override_cases()
    yield from flag_cases()


def _choice_cases() -> Iterator[CaseTuple]:
    """String fields that name a choice, given one that does not exist."""
    p = ("--print-config",)
    for command, key, value in [
        (("search", *p), "strategy", "parsecc"), (("search", *p), "space", "nb202"),
        (("search", *p), "device", "bogus"), (("search", *p), "device", "cuda:x"), (("search", *p), "device", ""),
        (("search", *p), "data.dataset", "cifar11"), (("search", "--strategy", "darts", *p), "settings.order", "3"),
        (("search", "--strategy", "darts", *p), "settings.relaxation", "tanh"),
        (("search", "--strategy", "gdas", *p), "settings.anneal", "cubic"),
        (("search", *p), "settings.preset", "fast"), (("search", *p), "settings.likelihood", "pixel"),
        (("search", *p), "settings.train_on", "all"), (("search", *p), "settings.cost_method", "barrier"),
        (("search", *p), "settings.exclude_ops", "('sep_conv_4x4',)"), (("search", *p), "settings.cost", "watts"),
        (("search", *p), "channels_last", "maybe"), (("search", *p), "net.auxiliary", "2"),
        (("train", "DARTS_V2", *p), "lr_schedule", "step"), (("train", "DARTS_V2", *p), "setting", "mobile"),
        (("train", "DARTS_V2", *p), "device", "tpu"), (("train", "DARTS_V2", *p), "amp", "sometimes"),
        (("train", "DARTS_V2", *p), "dataset", "cifar11"), (("bench", *p), "strategy", "annealing"),
        (("bench", *p), "select", "train"), (("bench", *p), "space", "darts"), (("bench", *p), "dataset", "mnist"),
        (("bench", "--strategy", "bananas", *p), "settings.acquisition", "ei"),
    ]:
        yield "config fields", f"{command[0]} {key}={value!r}", (*command, f"--{key}={value}"), key.rsplit(".")[-1]


def override_cases() -> Iterator[CaseTuple]:
    """``--key=value`` flags that are malformed, unknown, ambiguous or conflicting."""
    p = ("--print-config",)
    rows = [
        ("search", ["--=3"], "--=3"), ("search", ["--epochs="], "epochs"), ("search", ["--.lr=1"], ".lr=1"),
        ("search", ["--weights.=1"], "weights.=1"), ("search", ["--weights..lr=1"], "weights..lr=1"),
        ("search", ["--epoch=3"], "epoch"), ("search", ["--weights.lrr=0.1"], "lrr"),
        ("search", ["--nope.lr=0.1"], "nope"), ("search", ["--data=5"], "data"),
        ("search", ["--settings=5"], "settings"),
        ("search", ["--epochs.x=1"], "epochs"), ("search", ["--epochs=1", "--epochs.x=2"], "epochs"),
        ("search", ["--weights.lr.x=1"], "lr"), ("search", ["--batch_size=4", "--data.batch_size=8"], "batch_size"),
        ("search", ["--strategy=darts", "--settings.samples=2"], "samples"),
        ("search", ["--epochs", "--quiet"], "--epochs"),
        ("search", ["extra"], "extra"), ("search", ["-x"], "-x"), ("search", ["--epochs=1e1000"], "epochs"),
        ("search", ["--epochs=10**10"], "epochs"), ("search", ["--epochs=__import__('os')"], "epochs"),
        ("search", ["--epochs=" + "[" * 1000], "epochs"), ("search", ["--epochs=" + "9" * 5000], "epochs"),
        ("search", ["--parsec.samples=2", "--strategy=darts"], "parsec"),
        ("search", ["--settings.samples=0"], "samples"),
        ("search", ["--strategy=darts", "--settings.shrink_epochs=(1, 2)"], "shrink"),
        ("search", ["--strategy=darts", "--settings.shrink_epochs=(-1,)", "--settings.shrink_keep=(2,)"], "shrink"),
        ("search", ["--settings.min_samples=20"], "min_samples"), ("search", ["--settings.cost_target=1"], "cost"),
        ("search", ["--data.image_size=4"], "image_size"), ("search", ["--net.channels=5"], "channels"),
        ("train", ["--epoch=3"], "epoch"), ("train", ["--lr_min=0.1", "--lr=0.01"], "lr_min"),
        ("train", ["--crop_size=1"], "crop_size"),
        ("train", ["--channels=-4"], "channels"), ("train", ["--channels=5"], "channels"),
        ("train", ["--num_cells=0"], "num_cells"), ("train", ["--weights.lr=0.1"], "weights"),
        ("train", ["--lr"], "--lr"),
        ("bench", ["--budget=0"], "budget"), ("bench", ["--settings.population_size=2", "--settings.sample_size=5"],
                                             "sample_size"),
        ("bench", ["--strategy=random", "--settings.population_size=2"], "population_size"),
        ("bench", ["--batch_size=0"], "batch_size"), ("bench", ["--budget=ten"], "budget"),
    ]
    for command, flags, names in rows:
        argv = (command, *(("DARTS_V2",) if command == "train" else ()), *p, *flags)
        yield "overrides", f"{command} {' '.join(flags)[:60]}", argv, names


def flag_cases() -> Iterator[CaseTuple]:
    """The commands' own flags given nonsense (models are read from the workspace's finished run)."""
    model = "runs/train"
    rows = [
        (["--threads=-1", "show", "DARTS_V2"], "-1"), (["--threads=0", "show", "DARTS_V2"], "0"),
        (["--threads=abc", "show", "DARTS_V2"], "abc"), (["nocommand"], "nocommand"), ([], "command"),
        (["evaluate", model, "--device=bogus"], "bogus"), (["evaluate", model, "--device=cuda:99"], "cuda:99"),
        (["evaluate", model, "--device=cuda"], "cuda"), (["evaluate", model, "--batch-size=0"], "batch"),
        (["evaluate", model, "--batch-size=-3"], "batch"), (["evaluate", model, "--dataset=cifar11"], "cifar11"),
        (["export", model, "--format=bogus"], "bogus"), (["export", model, "--image-size=0"], "image-size"),
        (["export", model, "--image-size=-5"], "image-size"), (["export", model, "--image-size=abc"], "abc"),
        (["predict", model, "nothing.png", "--top=0"], "top"), (["predict", model, "nothing.png", "--top=-1"], "top"),
        (["predict", model, "nothing.png"], "nothing.png"), (["predict", model], "images"),
        (["proxies", "--archs=1"], "--archs"), (["proxies", "--archs=0"], "--archs"),
        (["proxies", "--archs=-5"], "--archs"), (["proxies", "--names", "gradnorm2"], "gradnorm2"),
        (["proxies", "--space=nope"], "nope"), (["proxies", "--batch-size=0"], "batch"),
        (["proxies", "--channels=-4", "--archs=2"], "channels"), (["proxies", "--num-cells=0", "--archs=2"], "num"),
        (["proxies", "--dataset=cifar11"], "cifar11"),
        (["halving", "--candidates=0"], "--candidates"), (["halving", "--eta=1"], "eta"),
        (["halving", "--eta=0"], "eta"), (["halving", "--scale=0"], "scale"), (["halving", "--scale=nan"], "scale"),
        (["halving", "--scale=-1"], "scale"), (["halving", "--method=bogus"], "bogus"),
        (["halving", "--dataset=mnist"], "mnist"),
        (["profile", "--device=bogus"], "bogus"), (["profile", "--device=cuda"], "cuda"),
        (["profile", "--batch=0"], "batch"), (["profile", "--repeats=0"], "repeats"),
        (["profile", "--warmup=-1"], "warmup"), (["profile", "--fixed-archs=0"], "fixed_archs"),
        (["profile", "--net", "num_cells"], "num_cells"), (["profile", "--net", "num_cells=-1"], "num_cells"),
        (["profile", "--net", "bogus=1"], "bogus"), (["profile", "--space=nope"], "nope"),
        (["profile", "--setting=nope"], "nope"), (["profile", "--clock=sundial"], "sundial"),
        (["show", "DARTS_V2", "--setting=nope"], "nope"), (["show"], "genotype"),
        (["table", "nowhere"], "nowhere"), (["table", model, "--format=xml"], "xml"),
        (["train", "DARTS_V2", "--protocol=mobile"], "mobile"), (["train", "DARTS_V2", "--ensemble=0"], "ensemble"),
        (["train", "DARTS_V2", "--ensemble=-2"], "ensemble"), (["train", "DARTS_V2", "--ensemble-random"], "ensemble"),
        (["train", "DARTS_V2", "--ensemble=2"], "DARTS_V2"), (["train", "DARTS_V2", "--seeds"], "seeds"),
        (["train", "DARTS_V2", "--seeds", "a"], "'a'"),
        (["bench", "--budget=-5"], "budget"), (["bench", "--select=train"], "train"),
        (["bench", "--seeds", "x"], "'x'"), (["search", "--device=cuda:x", "--print-config"], "cuda:x"),
        (["tune", "DARTS_V2"], "--space"), (["tune", "DARTS_V2", "--space", "c/missing.yaml"], "c/missing.yaml"),
        (["tune", "DARTS_V2", "--space", "c/invalid.yaml"], "c/invalid.yaml"),
        (["tune", "DARTS_V2", "--space", "c/list.yaml"], "mapping"),
        (["tune", "DARTS_V2", "--space", "c/unknown.yaml"], "epochz"),
        (["tune", "DARTS_V2", "--space", "c/epochs-nan.yaml"], "epochs"),
        (["tune", "nogenotype", "--space", "c/tune-space.yaml"], "nogenotype"),
        (["tune", "--space", "c/tune-space.yaml"], "genotype"), (["tune", "--space", "c/tune-nb201.yaml"], "nb201"),
        *((["tune", "DARTS_V2", "--space", "c/tune-space.yaml", flag], names) for flag, names in (
            ("--trials=0", "trials"), ("--trials=-3", "trials"), ("--sampler=bohb", "bohb"),
            ("--pruner=median", "median"), ("--eta=1", "reduction_factor"), ("--min-epochs=0", "min_epochs"),
            ("--startup-trials=-1", "startup_trials"), ("--trials=x", "'x'"))),
        (["tune", "DARTS_V2", "--space", "c/tune-space.yaml", "--objectives", "params_m"], "val_accuracy"),
        (["tune", "--resume", "--run-dir", "runs/train"], "runs/train"), (["tune", "--resume", "--run-dir", "notrun"],
                                                                         "--space"),
        (["library", "add"], "RUN_DIR"), (["library", "add", "nowhere", "--library", "lib"], "nowhere"),
        (["library", "add", "runs/train", "--library", "lib"], "runs/train"), (["library", "list"], "--library"),
    ]
    for argv, names in rows:
        yield "flags", " ".join(argv)[:70] or "(no arguments)", tuple(argv), names
