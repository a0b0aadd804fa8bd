"""Predictions for raw image files: the preprocessing the model trained with, then its softmax."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from parsecnas.cli import main
from parsecnas.export import save_model
from parsecnas.nets import build_network
from parsecnas.predict import Preprocess, load_images, predict

PRE = Preprocess(mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.3), image_size=16, crop_size=0, in_channels=3,
                 classes=("ant", "bee", "cat", "dog"))


@pytest.fixture()
def model(tmp_path):
    torch.manual_seed(0)
    net = build_network("DARTS_V2", num_cells=2, channels=4, num_classes=4, auxiliary=False)
    with torch.no_grad():
        net.train()(torch.randn(8, 3, 16, 16))
    save_model(net.eval(), tmp_path / "model.pt", {"dataset": "mine", "preprocess": PRE.to_dict()})
    return net, tmp_path / "model.pt"


def test_predictions_are_the_softmax_of_the_normalised_images(model, tmp_path) -> None:
    net, path = model
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(3, 16, 16, 3), dtype=np.uint8)
    files = []
    for i, p in enumerate(pixels):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(p).save(files[-1])
    out = predict(path, files, top=4)
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
    x = (x - torch.tensor(PRE.mean).view(1, 3, 1, 1)) / torch.tensor(PRE.std).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = net(x).softmax(1)
    for i, item in enumerate(out):
        probs = {p["class"]: p["probability"] for p in item["predictions"]}
        assert list(probs.values()) == sorted(probs.values(), reverse=True)
        for k, name in enumerate(PRE.classes):
            assert probs[name] == pytest.approx(float(expected[i, k]), abs=1e-5)


def test_images_of_any_size_and_mode_become_the_training_view(tmp_path) -> None:
    Image.fromarray(np.full((40, 80), 200, dtype=np.uint8)).save(tmp_path / "wide_gray.png")
    rgba = np.zeros((30, 20, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "red.png")
    images = load_images([tmp_path / "wide_gray.png", tmp_path / "red.png"], PRE)
    assert images.shape == (2, 3, 16, 16) and images.dtype == torch.uint8
    assert int(images[0].min()) == int(images[0].max()) == 200  # gray -> RGB, resized, centre kept
    assert images[1, 0].eq(255).all() and images[1, 1:].eq(0).all()
    gray = load_images([tmp_path / "red.png"], Preprocess((0.5,), (0.5,), 8, 0, 1, ("a", "b")))
    assert gray.shape == (1, 1, 8, 8)


def test_predict_on_the_command_line_and_bad_input(model, tmp_path, capsys) -> None:
    _, path = model
    Image.fromarray(np.zeros((16, 16, 3), dtype=np.uint8)).save(tmp_path / "x.jpg")
    assert main(["predict", str(path), str(tmp_path / "x.jpg"), "--top", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{tmp_path / 'x.jpg'}: ") and line.count(",") == 1
    (tmp_path / "notes.txt").write_text("not an image")
    for argv, message in ((["predict", str(path), str(tmp_path / "missing.png")], "does not exist"),
                          (["predict", str(path), str(tmp_path / "notes.txt")], "cannot read image"),
                          (["predict", str(path), str(tmp_path / "x.jpg"), "--top", "0"], "top=0")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
