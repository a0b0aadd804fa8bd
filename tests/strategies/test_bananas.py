"""The BANANAS predictor ensemble: its training fits every member, and the members stay different."""

from __future__ import annotations

import torch

from parsecnas.strategies.bananas import Ensemble


def data(n: int = 40, d: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(n, d, generator=g) < 0.3).float()
    return x, x @ torch.randn(d, generator=g) + 0.1 * torch.randn(n, generator=g)


def ensemble(d: int = 12) -> Ensemble:
    return Ensemble(members=3, d_in=d, hidden=8, layers=2, generator=torch.Generator().manual_seed(1))


def test_fit_drives_the_training_error_down_for_every_member() -> None:
    x, y = data()
    model = ensemble()
    with torch.no_grad():
        before = (model(x) - y).square().mean(1)
    model.fit(x, y, epochs=200, lr=0.01)
    with torch.no_grad():
        after = (model(x) - y).square().mean(1)
    assert after.shape == (3,) and (after < 0.2 * before).all()


def test_members_start_and_stay_different() -> None:
    x, y = data()
    model = ensemble()
    model.fit(x, y, epochs=50, lr=0.01)
    with torch.no_grad():
        pred = model(x)
    assert pred.shape == (3, len(x)) and pred.std(0).mean() > 1e-3
