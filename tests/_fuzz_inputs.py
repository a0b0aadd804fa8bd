"""The fuzz cases that read prepared files: genotypes, config files, data folders, model and checkpoint files,
run directories. :func:`build_workspace` makes every file they name (paths relative to the workspace)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from PIL import Image

from parsecnas.cli import main
from parsecnas.spaces import Genotype

CaseTuple = tuple  # (category, name, argv, fragment of the error[, needs the offline data: bool])
SEARCH = ["--quiet", "--epochs=1", "--steps_per_epoch=1", "--net.num_cells=3", "--net.channels=4",
          "--data.batch_size=4", "--data.eval_examples=8", "--settings.samples=2"]
TRAIN = ["--quiet", "--dataset=fashion-mnist-small", "--num_cells=2", "--channels=4", "--epochs=1",
         "--steps_per_epoch=1", "--batch_size=4", "--cutout=0"]
BENCH = ["--budget=4"]
BASE = Genotype.named("DARTS_V2").to_dict()
DEEP = 100_000


def _edit(change: Callable[[dict], None]) -> str:
    data = json.loads(json.dumps(BASE))
    change(data)
    return json.dumps(data)


def _set(key, value):
    return lambda data: data.__setitem__(key, value)


def _pair(cell, k, value):
    return lambda data: data[cell].__setitem__(k, value)


def _drop(key):
    return lambda data: data.pop(key)


GENOTYPE_JSON = {  # name -> (JSON text, fragment of the error)
    "normal an int": (_edit(_set("normal", 3)), "normal"),
    "normal null": (_edit(_set("normal", None)), "normal"),
    "normal a string": (_edit(_set("normal", "sep_conv_3x3")), "normal"),
    "normal a mapping": (_edit(_set("normal", {"a": 1})), "normal"),
    "normal empty": (_edit(_set("normal", [])), "normal"),
    "normal 9 pairs": (_edit(_set("normal", [*BASE["normal"], ["skip_connect", 0]])), "normal"),
    "normal_concat an int": (_edit(_set("normal_concat", 5)), "normal_concat"),
    "normal_concat null": (_edit(_set("normal_concat", None)), "normal_concat"),
    "normal_concat the string 2345": (_edit(_set("normal_concat", "2345")), "normal_concat"),
    "normal_concat floats": (_edit(_set("normal_concat", [2.0, 3.0, 4.0, 5.0])), "normal_concat"),
    "normal_concat 1.5": (_edit(_set("normal_concat", [1.5])), "normal_concat"),
    "normal_concat booleans": (_edit(_set("normal_concat", [True, 5])), "normal_concat"),
    "normal_concat empty": (_edit(_set("normal_concat", [])), "normal_concat"),
    "normal_concat negative": (_edit(_set("normal_concat", [-1, 5])), "normal_concat"),
    "reduce_concat out of range": (_edit(_set("reduce_concat", [2, 6])), "reduce_concat"),
    "node index null": (_edit(_pair("normal", 0, ["sep_conv_3x3", None])), "None"),
    "node index 1.5": (_edit(_pair("normal", 1, ["sep_conv_3x3", 1.5])), "1.5"),
    "node index true": (_edit(_pair("normal", 1, ["sep_conv_3x3", True])), "True"),
    "node index '1'": (_edit(_pair("normal", 1, ["sep_conv_3x3", "1"])), "'1'"),
    "node index -1": (_edit(_pair("reduce", 0, ["max_pool_3x3", -1])), "-1"),
    "node index too big": (_edit(_pair("reduce", 7, ["max_pool_3x3", 9])), "9"),
    "node index huge": (_edit(_pair("reduce", 7, ["max_pool_3x3", 10**30])), "1000000"),
    "op unknown": (_edit(_pair("normal", 0, ["sep_conv_4x4", 0])), "sep_conv_4x4"),
    "op an int": (_edit(_pair("normal", 0, [3, 0])), "normal pair 0"),
    "op null": (_edit(_pair("normal", 0, [None, 0])), "normal pair 0"),
    "pair of three": (_edit(_pair("normal", 2, ["sep_conv_3x3", 0, 1])), "normal pair 2"),
    "pair a mapping": (_edit(_pair("normal", 2, {"op": "sep_conv_3x3"})), "normal pair 2"),
    "pair a string": (_edit(_pair("normal", 2, "sep_conv_3x3")), "normal pair 2"),
    "misspelt key": (_edit(_set("reduce_concatt", [2, 3])), "reduce_concatt"),
    "unknown key": (_edit(_set("colour", "blue")), "colour"),
    "missing key": (_edit(_drop("reduce")), "reduce"),
    "empty object": ("{}", "normal"),
    "a list": ("[1, 2]", "[1, 2]"),
    "null": ("null", "null"),
    "a number": ("42", "42"),
    "a string": ('"DARTS_V2"', "DARTS_V2"),
    "invalid JSON": ('{"normal": [', "JSON"),
    "deeply nested list": ("[" * DEEP + "]" * DEEP, "nested"),
    "deeply nested object": ('{"a":' * DEEP + "1" + "}" * DEEP, "nested"),
    "non-string key": ('{"normal": 1, 2: 3}', "JSON"),
    "NaN inside": (_edit(_pair("normal", 1, ["sep_conv_3x3", float("nan")])), "nan"),
    "huge string": (_edit(_pair("normal", 0, ["s" * 10**6, 0])), "unknown op"),
}
GENOTYPE_TEXT = {  # genotype arguments that are not JSON
    "unknown name": ("DARTS_V3", "DARTS_V3"), "empty": ("", "genotype"), "blank": ("   ", "genotype"),
    "Genotype( open": ("Genotype(", "Genotype("), "Genotype of an int": ("Genotype(normal=1)", "normal"),
    "Genotype with a call": ("Genotype(normal=print('x'))", "Genotype"),
    "Genotype nested deep": ("Genotype(normal=" + "[" * DEEP + ")", "nested"),
    "Genotype unknown keyword": (str(Genotype.named("DARTS_V2")).replace("reduce_concat", "reduce_concatt"),
                                 "reduce_concatt"),
    "very long path": ("x" * 5000, "xxxx"), "missing file": ("nothing.json", "nothing.json"),
    "folder without genotype": ("g/folder", "g/folder"), "FIFO": ("g/fifo", "g/fifo"),
    "binary file": ("g/binary.json", "g/binary.json"), "empty file": ("g/empty.json", "g/empty.json"),
    "deep file": ("g/deep.json", "g/deep.json"), "list file": ("g/list.json", "g/list.json"),
    "text file": ("g/words.txt", "g/words.txt"), "device file": ("/dev/null", "/dev/null"),
    "NB201 run": ("runs/nb201", "runs/nb201"), "non-UTF-8 file": ("g/latin1.json", "g/latin1.json"),
}
CONFIG_FILES = {  # file -> (text, fragment of the error)
    "c/list.yaml": ("- 1\n- 2\n", "list"), "c/scalar.yaml": ("42\n", "int"), "c/string.yaml": ("hello\n", "str"),
    "c/invalid.yaml": ("epochs: [1,\n", "c/invalid.yaml"), "c/tabs.yaml": ("epochs:\n\t- 1\n", "c/tabs.yaml"),
    "c/unknown.yaml": ("epochz: 3\n", "epochz"), "c/nested-unknown.yaml": ("data:\n  batch: 3\n", "batch"),
    "c/section-scalar.yaml": ("data: 5\n", "data"), "c/section-list.yaml": ("data: [1, 2]\n", "data"),
    "c/int-key.yaml": ("1: 2\n", "1"), "c/null-key.yaml": ("~: 2\n", "None"),
    "c/epochs-text.yaml": ("epochs: many\n", "epochs"), "c/epochs-nan.yaml": ("epochs: .nan\n", "epochs"),
    "c/epochs-list.yaml": ("epochs: [1]\n", "epochs"), "c/epochs-map.yaml": ("epochs: {a: 1}\n", "epochs"),
    "c/bomb.yaml": ("a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\nepochs: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n", "a"),
    "c/alias-type.yaml": ("base: &b {lr: 0.1}\nweights: *b\nepochs: *b\n", "base"),
    "c/deep.yaml": ("epochs: " + "[" * 5000 + "]" * 5000 + "\n", "c/deep.yaml"),
    "c/python-tag.yaml": ("epochs: !!python/object/apply:os.system ['true']\n", "c/python-tag.yaml"),
    "c/binary.yaml": ("\x00\x01\x02\xff".encode("latin-1").decode("latin-1"), "c/binary.yaml"),
    "c/weights-nan.yaml": ("weights:\n  lr: .nan\n", "lr"),
    "c/weights-inf.yaml": ("weights:\n  grad_clip: .inf\n", "grad"),
    "c/settings-bad.yaml": ("strategy: darts\nsettings:\n  samples: 4\n", "samples"),
    "c/legacy-other.yaml": ("strategy: darts\nparsec:\n  samples: 4\n", "parsec"),
    "c/strategy-list.yaml": ("strategy: [parsec]\n", "strategy"),
    "c/negative.yaml": ("data:\n  batch_size: -8\n", "batch_size"),
}


def genotype_cases(train: list[str]) -> Iterator[CaseTuple]:
    for name, (text, names) in {**GENOTYPE_JSON, **GENOTYPE_TEXT}.items():
        yield "genotypes", f"show {name}", ("show", text), names
    for name, (text, names) in list(GENOTYPE_JSON.items())[::3] + list(GENOTYPE_TEXT.items()):
        yield "genotypes", f"train {name}", ("train", text, *train, "--run-dir", "runs/new"), names
    yield "genotypes", "train --print-config of a bad genotype", ("train", "DARTS_V3", "--print-config"), "DARTS_V3"


def config_file_cases() -> Iterator[CaseTuple]:
    for path, (_, names) in CONFIG_FILES.items():
        yield "config files", f"search {path}", ("search", "--config", path, "--print-config"), names
    for path in ("c/list.yaml", "c/unknown.yaml", "c/epochs-nan.yaml", "c/bomb.yaml", "c/deep.yaml"):
        names = CONFIG_FILES[path][1]
        yield "config files", f"train {path}", ("train", "DARTS_V2", "--config", path, "--print-config"), names
        yield "config files", f"bench {path}", ("bench", "--config", path, "--print-config"), names
    for path in ("c/missing.yaml", "c/folder.yaml", "c/fifo.yaml", "/dev/null"):
        for command in (("search",), ("train", "DARTS_V2"), ("bench",)):
            yield "config files", f"{command[0]} {path}", (*command, "--config", path, "--print-config"), path


DATA_FOLDERS = {"missing": "d/missing", "empty": "d/empty", "one class": "d/oneclass", "mixed sizes": "d/mixed",
                "not images": "d/notimages", "a file": "d/file.txt", "no image files": "d/noimages",
                "empty class": "d/emptyclass", "truncated image": "d/truncated"}


def data_cases(search: list[str], train: list[str]) -> Iterator[CaseTuple]:
    for name, folder in DATA_FOLDERS.items():
        flags = ["--data.dataset=image-folder", f"--data.data_dir={folder}"]
        yield "data folders", f"search {name}", ("search", *search, *flags, "--run-dir", "runs/new"), folder
        flags = ["--dataset=image-folder", f"--data_dir={folder}"]
        yield "data folders", f"train {name}", ("train", "DARTS_V2", *train, *flags, "--run-dir", "runs/new"), folder
        flags = ["--dataset=image-folder", f"--data-dir={folder}"]
        yield "data folders", f"evaluate {name}", ("evaluate", "runs/train", *flags), folder
    yield "data folders", "search cutout beyond the images", ("search", *search, "--data.cutout=100",
                                                              "--run-dir", "runs/new"), "cutout"
    yield "data folders", "train cutout beyond the images", ("train", "DARTS_V2", *train, "--cutout=29",
                                                             "--run-dir", "runs/new"), "cutout"
    for image in ("i/text.png", "i/empty.png", "i/folder", "i/fifo.png", "i/missing.png"):
        yield "data folders", f"predict {image}", ("predict", "runs/train", image), image


MODELS = ("m/truncated.pt", "m/empty.pt", "m/foreign.pt", "m/text.pt", "m/random.pt", "m/folder", "m/fifo.pt",
          "m/statedict.pt", "m/missing.pt", "m/list.pt")


def model_cases() -> Iterator[CaseTuple]:
    for model in MODELS:
        yield "model files", f"evaluate {model}", ("evaluate", model), model
        yield "model files", f"export {model}", ("export", model, "--out", "m/out.ts"), model
        yield "model files", f"predict {model}", ("predict", model, "i/good.png"), model
    for kind in ("search", "train"):
        for damage in CHECKPOINT_DAMAGE:
            run = f"runs/{kind}-{damage}"
            yield "checkpoints", f"{kind} resume {damage}", (*_command(kind, run), "--resume"), "checkpoint"


def run_dir_cases(search: list[str], train: list[str]) -> Iterator[CaseTuple]:
    for kind in ("search", "train", "bench"):
        for where, names in (("afile", "afile"), ("notrun", "notrun"), ("afile/sub", "afile"),
                             ("runs/search" if kind == "bench" else f"runs/{kind}",) * 2):
            argv = _command(kind, where)
            yield "run directories", f"{kind} into {where}", argv, names, kind == "bench"
        for where in ("runs/nothing", "d/empty"):
            yield "run directories", f"{kind} resume {where}", (*_command(kind, where), "--resume"), where, \
                kind == "bench"
    yield "run directories", "search resume with other settings", (*_command("search", "runs/search"),
                                                                  "--resume", "--seed=3"), "seed"
    yield "run directories", "train resume with other settings", (*_command("train", "runs/train"), "--resume",
                                                                 "--lr=0.5"), "lr"
    yield "run directories", "search init from nothing", (*_command("search", "runs/new"),
                                                          "--init-from=runs/nothing"), "runs/nothing"
    yield "run directories", "search init from a training run", (*_command("search", "runs/new"),
                                                                 "--init-from=runs/train"), "runs/train"
    yield "run directories", "search init from a file", (*_command("search", "runs/new"), "--init-from=afile"), "afile"
    yield "run directories", "train an ensemble of a training run", ("train", "runs/train", "--ensemble=2", *train,
                                                                     "--run-dir", "runs/new"), "runs/train"
    yield "run directories", "table of a non-run folder", ("table", "notrun"), "notrun"


def input_cases() -> Iterator[CaseTuple]:
    yield from genotype_cases(TRAIN)
    yield from config_file_cases()
    yield from data_cases(SEARCH, TRAIN)
    yield from model_cases()
    yield from run_dir_cases(SEARCH, TRAIN)


def _command(kind: str, run_dir: str) -> tuple[str, ...]:
    flags = {"search": ["search", *SEARCH], "train": ["train", "DARTS_V2", *TRAIN], "bench": ["bench", *BENCH]}
    return (*flags[kind], "--run-dir", run_dir)


# ------------------------------------------------------------------------------------------------ workspace

CHECKPOINT_DAMAGE = ("truncated", "empty", "foreign", "text", "folder")


def _images(folder: Path, sizes: dict[str, list[int]]) -> None:
    for cls, sides in sizes.items():
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for k, side in enumerate(sides):
            Image.new("L", (side, side), color=40 * k).save(folder / cls / f"{k}.png")


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.unlink()
    if how == "folder":
        path.mkdir()
        return
    blobs = {"truncated": data[: len(data) // 2], "empty": b"", "text": b"not a checkpoint\n"}
    if how == "foreign":
        torch.save({"something": torch.zeros(2)}, path)
    else:
        path.write_bytes(blobs[how])


def _finished_runs() -> None:
    assert main(["search", *SEARCH, "--run-dir", "runs/search"]) == 0
    assert main(["train", "DARTS_V2", *TRAIN, "--run-dir", "runs/train"]) == 0
    assert main(["search", *SEARCH, "--space=nb201", "--run-dir", "runs/nb201"]) == 0


def build_workspace(root: Path) -> Path:
    """Every file the cases read, and two finished tiny runs (``runs/search``, ``runs/train``)."""
    here = os.getcwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            _finished_runs()
    finally:
        os.chdir(here)
    for kind in ("search", "train"):
        for how in CHECKPOINT_DAMAGE:
            shutil.copytree(root / "runs" / kind, root / "runs" / f"{kind}-{how}")
            _damage(root / "runs" / f"{kind}-{how}" / "checkpoint.pt", how)
    for folder in ("g/folder", "c/folder.yaml", "d/empty", "notrun", "m/folder", "i/folder", "d/noimages/a",
                   "d/noimages/b", "d/emptyclass/b"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for fifo in ("g/fifo", "c/fifo.yaml", "m/fifo.pt", "i/fifo.png"):
        os.mkfifo(root / fifo)
    files = {"g/binary.json": bytes(range(256)) * 4, "g/empty.json": b"", "g/list.json": b"[1, 2, 3]",
             "g/deep.json": ("[" * DEEP + "]" * DEEP).encode(), "g/words.txt": b"a search found this\n",
             "g/latin1.json": '{"normal": "caf\xe9"}'.encode("latin-1"), "afile": b"precious\n",
             "notrun/notes.txt": b"my notes\n", "d/file.txt": b"not a folder\n",
             "d/noimages/a/readme.txt": b"x", "d/noimages/b/readme.txt": b"x", "i/text.png": b"not a png",
             "i/empty.png": b"", "m/empty.pt": b"", "m/text.pt": b"weights\n", "m/random.pt": os.urandom(4096),
             "c/tune-space.yaml": b"lr: {low: 0.01, high: 0.1, log: true}\n",  # valid: the flags are what is bad
             "c/tune-nb201.yaml": b"architecture: nb201\n"}
    files.update({path: text.encode("utf-8", "surrogateescape") for path, (text, _) in CONFIG_FILES.items()})
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    model = (root / "runs/train/model.pt").read_bytes()
    (root / "m/truncated.pt").write_bytes(model[: len(model) // 3])
    torch.save({"weights": [1, 2]}, root / "m/foreign.pt")
    torch.save([1, 2, 3], root / "m/list.pt")
    torch.save(torch.load(root / "runs/train/model.pt", weights_only=False).get("state_dict", {}),
               root / "m/statedict.pt")
    _images(root / "d/oneclass", {"a": [8] * 6})
    _images(root / "d/mixed", {"a": [8] * 4, "b": [8, 8, 9, 8]})
    _images(root / "d/emptyclass", {"a": [8] * 6})
    _images(root / "d/truncated", {"a": [8] * 4, "b": [8] * 4})
    (root / "d/truncated/b/1.png").write_bytes((root / "d/truncated/b/1.png").read_bytes()[:20])
    for cls in ("a", "b"):
        (root / "d/notimages" / cls).mkdir(parents=True)
        for k in range(4):
            (root / "d/notimages" / cls / f"{k}.png").write_bytes(b"plain text, not an image")
    _images(root / "i", {"": []})
    Image.new("RGB", (20, 20)).save(root / "i/good.png")
    return root
