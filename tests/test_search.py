from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from parsecnas.cli import main
from parsecnas.search import DataConfig, NetConfig, SearchConfig, run_search
from parsecnas.spaces import Genotype
from parsecnas.strategies import Parsec, ParsecConfig

TINY = SearchConfig(epochs=3, steps_per_epoch=3, net=NetConfig(num_cells=3, channels=4),
                    data=DataConfig(batch_size=8, eval_examples=64), settings=ParsecConfig(samples=3))
VOLATILE = {"time_s", "peak_rss_mb"}


def stable(metrics: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k not in VOLATILE} for m in metrics]


def test_killed_search_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch) -> None:
    full = run_search(TINY, tmp_path / "full", progress=False)
    calls = {"n": 0}
    original = Parsec.step

    def dying_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # mid-way through epoch 2, after the epoch-1 checkpoint
            raise KeyboardInterrupt("killed")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Parsec, "step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        run_search(TINY, tmp_path / "killed", progress=False)
    assert len((tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()) == 1
    monkeypatch.setattr(Parsec, "step", original)
    resumed = run_search(TINY, tmp_path / "killed", resume=True, progress=False)
    assert stable(resumed.metrics) == stable(full.metrics)
    assert resumed.architecture == full.architecture
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(a["net"][k], b["net"][k]) for k in a["net"])
    assert torch.equal(a["strategy"]["distribution"]["logits"], b["strategy"]["distribution"]["logits"])


def test_search_writes_its_outputs_and_they_load(tmp_path) -> None:
    result = run_search(TINY, tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert Genotype.parse((run / "genotype.json").read_text()) == result.architecture
    assert Genotype.parse((run / "genotype.txt").read_text()) == result.architecture
    top = json.loads((run / "top_architectures.json").read_text())
    probs = [t["probability"] for t in top]
    assert probs == sorted(probs, reverse=True) and Genotype.from_dict(top[0]["architecture"]) == result.architecture
    assert [m["epoch"] for m in result.metrics] == [1, 2, 3]
    for m in result.metrics:
        assert 0 <= m["mode_accuracy"] <= 1 and 1 <= m["ess"] <= 3 and m["entropy"] > 0


def test_init_from_warm_starts_the_distribution(tmp_path) -> None:
    first = run_search(TINY, tmp_path / "a", progress=False)
    cfg = SearchConfig(epochs=1, steps_per_epoch=1, init_from=str(tmp_path / "a"),
                       net=NetConfig(num_cells=4, channels=6), data=DataConfig(batch_size=8, eval_examples=32),
                       settings=ParsecConfig(samples=2, arch_lr=1e-9))
    second = run_search(cfg, tmp_path / "b", progress=False)
    assert second.architecture == first.architecture  # a bigger net, the same learnt mode
    with pytest.raises(FileNotFoundError, match="distribution.json"):
        run_search(SearchConfig(init_from=str(tmp_path)), tmp_path / "c", progress=False)


def test_resume_with_a_different_config_is_refused(tmp_path) -> None:
    run_search(TINY, tmp_path / "r", progress=False)
    with pytest.raises(Exception, match="differs"):
        run_search(SearchConfig(epochs=4, steps_per_epoch=3, net=TINY.net, data=TINY.data, settings=TINY.settings),
                   tmp_path / "r", resume=True, progress=False)


def test_cli_rejects_unknown_config_keys(capsys) -> None:
    assert main(["search", "--settings.sample=3"]) == 2
    assert "samples" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["parsec-finetune.yaml", "parsec-cifar10.yaml"])
def test_shipped_configs_load(name: str) -> None:
    from pathlib import Path

    from parsecnas.config import load_config

    cfg = load_config(SearchConfig, Path(__file__).parents[1] / "configs" / name)
    assert cfg.data.dataset == "cifar10"


def test_held_out_examples_cover_every_class_and_are_removed_from_the_search_split() -> None:
    from parsecnas.data import train_search_split
    from parsecnas.search import split_held_out

    labels = torch.arange(10).repeat_interleave(500)  # stored class by class, like an image folder
    _, search = train_search_split(len(labels), 0.5, seed=0, labels=labels)
    chosen, rest = split_held_out(search, 400, seed=0)
    counts = torch.bincount(labels[chosen], minlength=10)
    assert len(set(chosen.tolist())) == 400 and set(chosen.tolist()) <= set(search.tolist())
    assert not set(chosen.tolist()) & set(rest.tolist()) and len(chosen) + len(rest) == len(search)
    assert int(counts.min()) >= 20  # about 40 per class; the first 400 indices would hold one class only
    assert torch.equal(chosen, split_held_out(search, 400, seed=0)[0])
    assert len(split_held_out(search, 4000, seed=0)[0]) == len(search) // 5  # at most a fifth is set apart


def test_a_run_written_with_one_section_per_strategy_still_resumes(tmp_path) -> None:
    """Runs made before ``settings`` existed stored ``parsec:``, ``darts:``, ... sections; they resume unchanged."""
    import yaml

    from parsecnas.config import to_dict
    from parsecnas.strategies import DartsConfig, GdasConfig, SnasConfig, XnasConfig

    short = SearchConfig(epochs=1, steps_per_epoch=TINY.steps_per_epoch, net=TINY.net, data=TINY.data,
                         settings=TINY.settings)
    run_search(short, tmp_path / "old", progress=False)
    path = tmp_path / "old" / "config.yaml"
    stored = yaml.safe_load(path.read_text())
    stored["parsec"] = stored.pop("settings")
    for name, cls in [("darts", DartsConfig), ("xnas", XnasConfig), ("gdas", GdasConfig), ("snas", SnasConfig)]:
        stored[name] = to_dict(cls())
    path.write_text(yaml.safe_dump(stored, sort_keys=False))
    old = path.read_bytes()
    longer = SearchConfig(epochs=2, steps_per_epoch=TINY.steps_per_epoch, net=TINY.net, data=TINY.data,
                          settings=TINY.settings)
    with pytest.raises(Exception, match="differs"):  # epochs differ: a real difference is still one
        run_search(longer, tmp_path / "old", resume=True, progress=False)
    result = run_search(short, tmp_path / "old", resume=True, progress=False)
    assert [m["epoch"] for m in result.metrics] == [1] and path.read_bytes() == old


def test_config_yaml_records_the_schedule_the_strategy_ran_with(tmp_path) -> None:
    import yaml

    run_search(TINY, tmp_path / "r", progress=False)
    stored = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())["settings"]
    assert (stored["epochs"], stored["steps_per_epoch"]) == (TINY.epochs, TINY.steps_per_epoch)
    assert TINY.settings.epochs != TINY.epochs  # given as the default; the loop lays it over the search
    run_search(TINY, tmp_path / "r", resume=True, progress=False)  # the same given config still resumes


def test_a_search_says_what_it_runs_before_its_first_step(tmp_path, capsys) -> None:
    run_search(replace(TINY, epochs=1, steps_per_epoch=1), tmp_path / "r", progress=True)
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.strip() for line in out.splitlines()[:6]}
    assert "10 classes" in lines["data"] and "held-out examples" in lines["data"]
    assert "3 cells, C = 4" in lines["supernet"] and "M parameters" in lines["supernet"]
    assert "1 epochs x 1 steps = 1, batch" in lines["steps"]
    assert lines["strategy"].startswith("strategy parsec: preset='robust'") and "epochs=" not in lines["strategy"]
    assert f"--resume --run-dir {tmp_path / 'r'}" in lines["run"]
