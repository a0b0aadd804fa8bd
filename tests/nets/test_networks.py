from __future__ import annotations

import pytest
import torch

from parsecnas.estimators import count_multiply_adds, count_parameters
from parsecnas.nets import EvalNetwork, SuperNet, build_network
from parsecnas.ops import PRIMITIVES
from parsecnas.spaces import Genotype, get_space, mixing_from_genotype, sample_uniform


@pytest.mark.parametrize(
    ("name", "setting", "millions"),
    [
        ("DARTS_V2", "cifar10", 3.3),  # Liu et al. 2019, Table 1
        ("DARTS_V2", "imagenet", 4.7),  # Liu et al. 2019, Table 3
        ("PC_DARTS_cifar", "cifar10", 3.6),  # Xu et al. 2020
        ("PC_DARTS_image", "imagenet", 5.3),
        ("PDARTS", "cifar10", 3.4),  # Chen et al. 2019
        ("PDARTS", "imagenet", 4.9),
    ],
)
def test_published_genotypes_reproduce_paper_parameter_counts(name: str, setting: str, millions: float) -> None:
    net = build_network(name, setting)
    assert abs(count_parameters(net) / 1e6 - millions) < 0.1
    assert count_parameters(net, include_auxiliary=True) > count_parameters(net)


def test_imagenet_multiply_adds_are_near_the_mobile_setting() -> None:
    macs = count_multiply_adds(build_network("DARTS_V2", "imagenet"), (3, 224, 224))
    assert 500e6 < macs < 600e6  # the mobile setting caps at 600M; DARTS reports 574M


@pytest.mark.parametrize("size", [28, 32, 40])
@pytest.mark.parametrize("stem", ["cifar", "imagenet"])
def test_networks_take_any_channels_and_sizes_from_28px(size: int, stem: str) -> None:
    net = EvalNetwork(Genotype.named("DARTS_V2"), num_cells=4, channels=8, num_classes=7, in_channels=1,
                      stem=stem)
    net.train()
    logits, aux = net.forward_train(torch.randn(2, 1, size, size))
    assert logits.shape == (2, 7) and aux is not None and aux.shape == (2, 7)
    net.eval()
    assert net.forward_train(torch.randn(2, 1, size, size))[1] is None


def test_drop_path_is_off_in_eval_and_random_in_training() -> None:
    torch.manual_seed(0)
    net = EvalNetwork(Genotype.named("DARTS_V2"), num_cells=3, channels=8, auxiliary=False)
    x = torch.randn(4, 3, 32, 32)
    net.drop_path_prob = 0.5
    net.eval()
    assert torch.equal(net(x), net(x))
    net.train()
    net.drop_path_generator = torch.Generator().manual_seed(0)
    a = net(x)
    net.drop_path_generator = torch.Generator().manual_seed(0)
    assert torch.allclose(a, net(x))
    net.drop_path_generator = torch.Generator().manual_seed(1)
    assert not torch.allclose(a, net(x))


def test_supernet_with_one_hot_mixing_equals_the_discrete_path() -> None:
    torch.manual_seed(0)
    net = SuperNet(num_cells=5, channels=6, num_classes=4).double()
    x = torch.randn(3, 3, 32, 32, dtype=torch.double)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        g = sample_uniform(get_space("darts"), gen)
        mixing = {k: v.double() for k, v in mixing_from_genotype(g).items()}
        assert torch.allclose(net(x, g), net(x, mixing), atol=1e-10)


def test_supernet_mixed_gradient_reaches_every_op() -> None:
    net = SuperNet(num_cells=3, channels=4, num_classes=3)
    alpha = {c: torch.zeros(14, len(PRIMITIVES), requires_grad=True) for c in ("normal", "reduce")}
    out = net(torch.randn(2, 3, 28, 28), {c: a.softmax(-1) for c, a in alpha.items()})
    out.square().sum().backward()
    for a in alpha.values():
        assert a.grad is not None and (a.grad[:, 1:] != 0).all()


def test_supernet_active_mask_skips_ops() -> None:
    net = SuperNet(num_cells=3, channels=4, num_classes=3)
    w = {c: torch.full((14, len(PRIMITIVES)), 1 / 8) for c in ("normal", "reduce")}
    x = torch.randn(2, 3, 32, 32)
    only = {c: torch.zeros(14, len(PRIMITIVES), dtype=torch.bool) for c in ("normal", "reduce")}
    for c in only:
        only[c][:, PRIMITIVES.index("skip_connect")] = True
    masked = net(x, {**w, "normal_active": only["normal"], "reduce_active": only["reduce"]})
    skip_only = {c: torch.zeros(14, len(PRIMITIVES)) for c in ("normal", "reduce")}
    for c in skip_only:
        skip_only[c][:, PRIMITIVES.index("skip_connect")] = 1 / 8
    assert torch.allclose(masked, net(x, skip_only), atol=1e-6)


def test_supernet_auxiliary_head_adds_its_weighted_loss() -> None:
    from parsecnas.nets import training_loss

    torch.manual_seed(0)
    net = SuperNet(num_cells=3, channels=4, num_classes=3, auxiliary=True, auxiliary_weight=0.4)
    g = sample_uniform(get_space("darts"), torch.Generator().manual_seed(0))
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 0])
    logits, aux = net.forward_train(x, g)
    assert aux is not None and torch.equal(net(x, g), logits)
    expected = torch.nn.functional.cross_entropy(logits, y) + 0.4 * torch.nn.functional.cross_entropy(aux, y)
    assert torch.allclose(training_loss(net, g, (x, y)), expected)


@pytest.mark.parametrize("space_name", ["darts", "nb201"])
def test_every_network_and_supernet_splits_into_features_and_head(space_name: str) -> None:
    """timm's interface: ``forward_head(forward_features(x)) == forward(x)``, for networks and supernets."""
    space = get_space(space_name)
    arch = sample_uniform(space, torch.Generator().manual_seed(0))
    x = torch.randn(2, 3, 16, 16)
    net = space.build(arch, num_cells=2 if space_name == "nb201" else 3, channels=4, num_classes=3).eval()
    assert torch.allclose(net.forward_head(net.forward_features(x)), net(x))
    assert net.forward_head(net.forward_features(x), pre_logits=True).shape[0] == 2
    supernet = space.supernet(num_cells=2 if space_name == "nb201" else 3, channels=4, num_classes=3)
    assert torch.allclose(supernet.forward_head(supernet.forward_features(x, arch)), supernet(x, arch))
