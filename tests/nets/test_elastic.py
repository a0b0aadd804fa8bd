"""The elastic network: kernel transformation, channel slicing, extraction equal to the elastic forward."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from parsecnas.estimators.cost import count_parameters
from parsecnas.nets.elastic import ElasticMobileNet, recalibrate_bn
from parsecnas.nets.elastic_ops import ElasticBatchNorm, ElasticDepthwise
from parsecnas.spaces.ofa import OfaSpace


def trained_net(seed: int = 0) -> tuple[OfaSpace, ElasticMobileNet]:
    """A tiny elastic net after a few random-subnet SGD steps (non-trivial weights, transforms and BN)."""
    space = OfaSpace(stages=3)
    torch.manual_seed(seed)
    net = space.supernet(channels=4, num_classes=5, in_channels=2)
    assert isinstance(net, ElasticMobileNet)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(3):
        x, y = torch.randn(6, 2, 28, 28, generator=gen), torch.randint(0, 5, (6,), generator=gen)
        opt.zero_grad()
        F.cross_entropy(net(x, space.sample(gen)), y).backward()
        opt.step()
    return space, net


def test_kernel_transforms_have_the_smaller_kernels_shapes_and_start_as_identity() -> None:
    dw = ElasticDepthwise(6, (3, 5, 7))
    assert {k: tuple(v.shape) for k, v in dw.transforms.items()} == {"7to5": (25, 25), "5to3": (9, 9)}
    assert torch.equal(dw.kernel(7, 6), dw.weight)  # the largest kernel: the stored weight itself
    assert torch.equal(dw.kernel(5, 4), dw.weight[:4, :, 1:6, 1:6])  # identity at start: the centre
    assert tuple(dw.kernel(3, 2).shape) == (2, 1, 3, 3)


def test_smaller_kernels_pass_through_the_learnt_matrices() -> None:
    dw = ElasticDepthwise(3, (3, 5, 7))
    with torch.no_grad():
        dw.transforms["7to5"].mul_(2.0)
        dw.transforms["5to3"].mul_(3.0)
    assert torch.allclose(dw.kernel(5, 3), 2 * dw.weight[:, :, 1:6, 1:6])
    assert torch.allclose(dw.kernel(3, 3), 6 * dw.weight[:, :, 2:5, 2:5])
    dw(torch.randn(1, 3, 8, 8), 3).sum().backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in dw.transforms.values())


def test_extracted_subnetwork_equals_the_elastic_forward_in_eval_mode() -> None:
    space, net = trained_net()
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(4, 2, 28, 28, generator=gen)
    for arch in [space.largest(), space.smallest(), *(space.sample(gen) for _ in range(4))]:
        recalibrate_bn(net, lambda b, a=arch: net(b, a), [torch.randn(8, 2, 28, 28, generator=gen)])
        sub = net.extract(arch).eval()
        with torch.no_grad():
            expected = net.eval()(x, arch)
            got = sub(x)
        assert torch.allclose(got, expected, atol=1e-5), (str(arch), (got - expected).abs().max())
        assert count_parameters(sub) < count_parameters(net)


def test_extracted_subnetwork_holds_copies_not_views() -> None:
    space, net = trained_net()
    sub = net.extract(space.smallest())
    before = [p.clone() for p in sub.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    assert all(torch.equal(a, b) for a, b in zip(before, sub.parameters()))


def test_batch_norm_slices_share_the_largest_layers_statistics() -> None:
    bn = ElasticBatchNorm(6, momentum=None)
    x = torch.randn(16, 4, 3, 3) * 2 + 1
    bn.train()(x)
    assert torch.allclose(bn.running_mean[:4], x.mean((0, 2, 3)), atol=1e-6)
    assert torch.equal(bn.running_mean[4:], torch.zeros(2))


def test_recalibration_averages_the_batches_statistics() -> None:
    space, net = trained_net()
    arch = space.smallest()
    batches = [torch.randn(8, 2, 28, 28) + i for i in range(3)]
    stem = []
    handle = net.stem.register_forward_hook(lambda m, i, out: stem.append(out.detach()))
    recalibrate_bn(net, lambda b: net(b, arch), batches)
    handle.remove()
    expected = torch.stack([s.mean((0, 2, 3)) for s in stem]).mean(0)
    c = expected.numel()
    assert torch.allclose(net.stem_bn.running_mean[:c], expected, atol=1e-5)
    assert net.training and net.stem_bn.momentum == 0.1


def test_resolution_decides_the_input_size_the_network_runs_at() -> None:
    space, net = trained_net()
    seen = []
    handle = net.stem.register_forward_hook(lambda m, i, out: seen.append(tuple(i[0].shape[-2:])))
    net.eval()(torch.randn(1, 2, 28, 28), space.smallest())
    handle.remove()
    assert seen == [(24, 24)]
