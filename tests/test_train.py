"""From-scratch training: learning, drop path, auxiliary head, schedules, resume, seeds and provenance."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

import parsecnas.train as train_module
from parsecnas.data import Loader, LoaderConfig, load_dataset
from parsecnas.nets import build_network
from parsecnas.ops import drop_path
from parsecnas.run import Run, RunError
from parsecnas.spaces.genotype import Genotype
from parsecnas.train import (
    TrainConfig,
    evaluate,
    protocol_config,
    search_provenance,
    train_genotype,
    training_loss,
)
from parsecnas.train_seeds import train_seeds

TINY = TrainConfig(dataset="fashion-mnist-small", num_cells=3, channels=8, epochs=2, steps_per_epoch=3,
                   batch_size=16, cutout=0, eval_batch_size=500)
VOLATILE = {"time_s", "peak_rss_mb"}


def tiny_net(**options):
    torch.manual_seed(0)
    return build_network("DARTS_V2", num_cells=3, channels=8, in_channels=1, **options)


def test_a_few_steps_decrease_the_loss() -> None:
    ds = load_dataset("fashion-mnist-small")
    x, y = next(iter(Loader.from_dataset(ds, "train", None, LoaderConfig(batch_size=32), seed=0)))
    net = tiny_net().train()
    sgd = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(12):
        logits, aux = net.forward_train(x)
        loss = training_loss(logits, aux, y, 0.4)
        sgd.zero_grad()
        loss.backward()
        sgd.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_drop_path_zeroes_whole_examples_and_keeps_the_expectation() -> None:
    x = torch.ones(20000, 2, 3, 3)
    out = drop_path(x, 0.3, torch.Generator().manual_seed(0))
    per_example = out.flatten(1)
    dropped = (per_example == 0).all(1)
    kept = per_example[~dropped]
    assert torch.allclose(kept, torch.full_like(kept, 1 / 0.7))  # survivors are scaled by 1 / keep
    n, p = len(x), 0.3
    assert abs(dropped.float().mean().item() - p) < 5 * math.sqrt(p * (1 - p) / n)
    assert abs(out.mean().item() - 1.0) < 0.02  # E[drop_path(x)] = x
    assert torch.equal(drop_path(x, 0.0), x)


def test_auxiliary_head_reads_the_cell_at_two_thirds_depth_in_training_only() -> None:
    net = tiny_net(auxiliary=True).train()
    captured = {}
    net.cells[net.aux_index].register_forward_hook(lambda m, i, o: captured.update(out=o))
    x = torch.randn(4, 1, 28, 28)
    logits, aux = net.forward_train(x)
    assert net.aux_index == 2 * 3 // 3
    assert aux is not None and aux.shape == logits.shape == (4, 10)
    torch.testing.assert_close(aux, net.auxiliary(captured["out"]))
    y = torch.tensor([0, 1, 2, 3])
    expected = F.cross_entropy(logits, y) + 0.4 * F.cross_entropy(aux, y)
    torch.testing.assert_close(training_loss(logits, aux, y, 0.4), expected)
    assert net.eval().forward_train(x)[1] is None


def test_label_smoothing_matches_its_definition() -> None:
    logits, y = torch.randn(6, 10), torch.arange(6)
    eps = 0.1
    target = torch.full((6, 10), eps / 10).scatter_(1, y[:, None], 1 - eps + eps / 10)
    expected = -(target * logits.log_softmax(1)).sum(1).mean()
    torch.testing.assert_close(training_loss(logits, None, y, 0.4, eps), expected)


def test_top5_accuracy_counts_labels_among_the_five_largest_logits() -> None:
    class Fixed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):  # logits = the input's first 10 values
            return x.flatten(1)[:, :10]

    scores = torch.arange(10, dtype=torch.uint8).repeat(4, 1)  # class 9 ranks first, 5 fifth, 4 sixth
    labels = torch.tensor([9, 5, 4, 0])
    loader = Loader(scores.view(4, 1, 1, 10), labels, (0.0,), (1 / 255,), LoaderConfig(batch_size=2, shuffle=False))
    result = evaluate(Fixed(), loader, channels_last=False)
    assert result == {"top1": 0.25, "top5": 0.5}


def test_protocols_follow_the_papers() -> None:
    cifar, imagenet = protocol_config("cifar"), protocol_config("imagenet")
    assert (cifar.num_cells, cifar.channels, cifar.batch_size, cifar.epochs, cifar.cutout) == (20, 36, 96, 600, 16)
    assert (cifar.lr, cifar.lr_schedule, cifar.auxiliary_weight, cifar.grad_clip) == (0.025, "cosine", 0.4, 5.0)
    assert (imagenet.num_cells, imagenet.channels, imagenet.batch_size, imagenet.epochs) == (14, 48, 128, 250)
    assert (imagenet.lr, imagenet.lr_schedule, imagenet.lr_decay, imagenet.label_smoothing) == (
        0.1, "exponential", 0.97, 0.1)
    assert imagenet.setting == "imagenet"
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(lr_schedule="step")
    with pytest.raises(ValueError, match="unknown protocol"):
        protocol_config("mnist")


def test_schedules_and_drop_path_are_logged_per_epoch(tmp_path) -> None:
    cfg = TrainConfig(**{**TINY.__dict__, "epochs": 3, "steps_per_epoch": 1, "lr": 0.1, "lr_schedule": "exponential",
                         "drop_path": 0.3})
    train_genotype("DARTS_V2", cfg, tmp_path / "r", progress=False)
    metrics = Run(tmp_path / "r").metrics()
    assert [m["lr"] for m in metrics] == pytest.approx([0.1 * 0.97, 0.1 * 0.97**2, 0.1 * 0.97**3])
    assert [m["drop_path"] for m in metrics] == pytest.approx([0.0, 0.1, 0.2])


def test_killed_training_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch) -> None:
    full = train_genotype("DARTS_V2", TINY, tmp_path / "full", progress=False)
    calls = {"n": 0}
    original = train_module.training_loss

    def dying_loss(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:  # mid-way through epoch 2, after the epoch-1 checkpoint
            raise KeyboardInterrupt("killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(train_module, "training_loss", dying_loss)
    with pytest.raises(KeyboardInterrupt):
        train_genotype("DARTS_V2", TINY, tmp_path / "killed", progress=False)
    monkeypatch.setattr(train_module, "training_loss", original)
    resumed = train_genotype("DARTS_V2", TINY, tmp_path / "killed", resume=True, progress=False)
    for key in ("test_accuracy", "test_top5_accuracy", "params_m"):
        assert resumed[key] == full[key]
    strip = [{k: v for k, v in m.items() if k not in VOLATILE} for m in Run(tmp_path / "full").metrics()]
    assert strip == [{k: v for k, v in m.items() if k not in VOLATILE} for m in Run(tmp_path / "killed").metrics()]
    a = torch.load(tmp_path / "full" / "model.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "killed" / "model.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_seeds_are_summarised_as_mean_and_sample_std(tmp_path) -> None:
    cfg = TrainConfig(**{**TINY.__dict__, "epochs": 1, "steps_per_epoch": 2})
    summary = train_seeds("DARTS_V2", cfg, tmp_path / "s", [0, 1, 2], progress=False)
    errors = torch.tensor([json.loads((tmp_path / "s" / f"seed-{s}" / "result.json").read_text())["test_error_pct"]
                           for s in (0, 1, 2)], dtype=torch.float64)
    assert summary["seeds"] == [0, 1, 2]
    assert summary["test_error_pct_mean"] == pytest.approx(float(errors.mean()))
    assert summary["test_error_pct_std"] == pytest.approx(float(errors.std(unbiased=True)))
    assert json.loads((tmp_path / "s" / "summary.json").read_text())["test_error_pct_mean"] == pytest.approx(
        summary["test_error_pct_mean"])
    with pytest.raises(ValueError, match="distinct"):
        train_seeds("DARTS_V2", cfg, tmp_path / "t", [1, 1], progress=False)


def test_search_cost_and_method_come_from_the_search_run(tmp_path) -> None:
    search = tmp_path / "search-run"
    Run(search).create({"strategy": "parsec", "epochs": 1})
    (search / "genotype.json").write_text(Genotype.named("DARTS_V1").to_json())
    Run(search).write_json("search_cost.json", {"device": "Test GPU", "device_hours": 12.0})
    for spec in (search, search / "genotype.json"):
        info = search_provenance(str(spec))
        assert info == {"architecture": "search-run", "search_method": "parsec",
                        "search_cost": {"device": "Test GPU", "device_hours": 12.0}}
    assert search_provenance("DARTS_V2")["search_method"] == "published"
    cfg = TrainConfig(**{**TINY.__dict__, "epochs": 1, "steps_per_epoch": 1})
    result = train_genotype(str(search), cfg, tmp_path / "t", progress=False)
    assert result["search_cost"]["device_hours"] == 12.0 and result["genotype"] == Genotype.named("DARTS_V1").to_dict()


def test_mixed_precision_training_runs_and_stays_close_to_fp32(tmp_path) -> None:
    cfg = TrainConfig(**{**TINY.__dict__, "epochs": 1, "steps_per_epoch": 2, "device": "cpu"})
    fp32 = train_genotype("DARTS_V2", cfg, tmp_path / "fp32", progress=False)
    bf16 = train_genotype("DARTS_V2", TrainConfig(**{**cfg.__dict__, "amp": True}), tmp_path / "bf16", progress=False)
    loss32 = Run(tmp_path / "fp32").metrics()[0]["train_loss"]
    loss16 = Run(tmp_path / "bf16").metrics()[0]["train_loss"]
    assert math.isfinite(loss16) and abs(loss16 - loss32) < 0.05 * loss32  # bf16 keeps ~3 significant digits
    assert 0 <= bf16["test_accuracy"] <= 1 and fp32["params_m"] == bf16["params_m"]


def test_validation_accuracy_is_logged_per_epoch_on_held_out_training_images(tmp_path) -> None:
    cfg = TrainConfig(**{**TINY.__dict__, "epochs": 2, "steps_per_epoch": 1, "val_examples": 40,
                         "tracking": ("csv",)})
    result = train_genotype("DARTS_V2", cfg, tmp_path / "r", progress=False)
    metrics = Run(tmp_path / "r").metrics()
    assert [m["epoch"] for m in metrics if "val_accuracy" in m] == [1, 2]
    assert result["val_accuracy"] == metrics[-1]["val_accuracy"] and "test_accuracy" not in metrics[-1]
    pytest.importorskip("matplotlib")
    assert (tmp_path / "r" / "curves.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "r" / "metrics.csv").read_text().splitlines()[0].startswith("epoch,train_loss,val_accuracy")


def test_held_out_images_are_never_trained_on_and_the_test_set_only_when_asked() -> None:
    ds = load_dataset("fashion-mnist-small")
    n = len(ds.train_labels)
    held = train_module._setup_training(Genotype.named("DARTS_V2"), TINY, torch.device("cpu"))
    assert held.val is not None and held.val.num_examples == min(TINY.val_examples, n // 5)
    assert held.train.num_examples == n - held.val.num_examples
    test = train_module._setup_training(Genotype.named("DARTS_V2"), TrainConfig(**{**TINY.__dict__,
                                        "validation": "test"}), torch.device("cpu"))
    assert test.val is test.test and test.train.num_examples == n
    off = train_module._setup_training(Genotype.named("DARTS_V2"), TrainConfig(**{**TINY.__dict__,
                                       "validation": "off"}), torch.device("cpu"))
    assert off.val is None and off.train.num_examples == n


def test_the_test_set_per_epoch_ends_at_the_final_test_accuracy(tmp_path) -> None:
    cfg = TrainConfig(**{**TINY.__dict__, "epochs": 1, "steps_per_epoch": 1, "validation": "test"})
    result = train_genotype("DARTS_V2", cfg, tmp_path / "r", progress=False)
    assert Run(tmp_path / "r").metrics()[-1]["test_accuracy"] == result["test_accuracy"]


def test_a_run_stored_before_validation_existed_resumes_only_without_it(tmp_path) -> None:
    cfg = TrainConfig(**{**TINY.__dict__, "epochs": 1, "steps_per_epoch": 1, "validation": "off"})
    train_genotype("DARTS_V2", cfg, tmp_path / "r", progress=False)
    stored = (tmp_path / "r" / "config.yaml").read_text()
    old = "\n".join(line for line in stored.splitlines() if not line.startswith(("validation:", "val_examples:")))
    (tmp_path / "r" / "config.yaml").write_text(old + "\n")
    with pytest.raises(RunError, match="validation: stored '<absent>', given 'held_out'"):
        train_genotype("DARTS_V2", replace(cfg, validation="held_out"), tmp_path / "r", resume=True, progress=False)
    train_genotype("DARTS_V2", cfg, tmp_path / "r", resume=True, progress=False)  # it trained on every image
