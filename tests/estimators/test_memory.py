"""Peak activation memory: hand-counted on tiny nets, checked against the CPU allocator's measured peak, usable
as any cost by black-box strategies, and refused by the expected-cost methods."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from parsecnas.estimators.cost_specs import make_cost
from parsecnas.estimators.memory import PeakMemoryCost, allocator_peak_bytes, trace_activations
from parsecnas.estimators.rewards import MnasReward
from parsecnas.spaces import get_space
from parsecnas.spaces.base import sample_uniform
from parsecnas.strategies import create_blackbox, run_blackbox
from parsecnas.strategies.cost_budget import LatencyLossFields
from parsecnas.strategies.parsec import ParsecConfig

FLOAT = 4  # bytes


class Branchy(nn.Module):
    """x (2 channels, 3x3) -> h = relu(conv_a(x)); out = cat(x, h + x, conv_b(h)) with 4 channels from conv_b."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(2, 2, 1), nn.Conv2d(2, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.a(x))
        return torch.cat([x, h + x, self.b(h)], 1)


def test_a_chain_holds_each_layer_input_and_output_at_once() -> None:
    net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 16), nn.Linear(16, 4))
    trace = trace_activations(net, torch.zeros(1, 8))
    # ideal: the widest neighbouring pair, 32 + 32 floats while the ReLU runs
    assert trace.peak_bytes() == (32 + 32) * FLOAT
    # eager also keeps the caller's input (8) alive throughout
    assert trace.peak_bytes("eager") == (8 + 32 + 32) * FLOAT
    assert trace.live_bytes()[-1] == (16 + 4) * FLOAT  # the last Linear: its input and the output


def test_a_branching_net_counts_every_tensor_the_concatenation_needs() -> None:
    trace = trace_activations(Branchy(), torch.zeros(1, 2, 3, 3))
    # at the concatenation: x (18), h + x (18), conv_b(h) (36) and the output (72 floats); h itself is dead
    # (ideal: last read by conv_b), alive in eager (the local variable h holds it)
    assert trace.peak_bytes() == (18 + 18 + 36 + 72) * FLOAT
    assert trace.peak_bytes("eager") == (18 + 18 + 18 + 36 + 72) * FLOAT


def test_eager_accounting_equals_the_cpu_allocators_measured_peak() -> None:
    x = torch.zeros(1, 2, 3, 3)
    net = Branchy()
    assert allocator_peak_bytes(net, x) == trace_activations(net, x).peak_bytes("eager") - x.nbytes
    chain = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 16))
    x = torch.zeros(2, 8)
    assert allocator_peak_bytes(chain, x) == trace_activations(chain, x).peak_bytes("eager") - x.nbytes


@pytest.mark.parametrize("name", ["nb201", "darts"])
def test_space_networks_measured_peak_bounds_the_counts(name: str) -> None:
    space = get_space(name)
    setting = space.net_setting("cifar10", num_cells=2 if name == "darts" else 1, channels=8)
    arch = sample_uniform(space, torch.Generator().manual_seed(1))
    net = space.build(arch, **setting.options)
    x = torch.zeros(setting.input_shape(1))
    trace = trace_activations(net, x)
    assert allocator_peak_bytes(net, x) == trace.peak_bytes("eager") - x.nbytes
    assert trace.peak_bytes("eager") >= trace.peak_bytes() > x.nbytes
    wider = trace_activations(net, torch.zeros(setting.input_shape(3)))
    assert wider.peak_bytes() == 3 * trace.peak_bytes() and wider.ops == trace.ops  # linear in the batch


def test_the_cost_scales_with_batch_and_dtype_and_is_named_in_configs() -> None:
    space = get_space("nb201")
    setting = space.net_setting("cifar10", num_cells=1)
    arch = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|")
    base = PeakMemoryCost(space, setting)
    expected = trace_activations(space.build(arch, **setting.options), torch.zeros(1, 3, 32, 32)).peak_bytes()
    assert base(arch) == pytest.approx(expected / 2 ** 20)
    assert PeakMemoryCost(space, setting, batch=8, dtype=torch.float16)(arch) == pytest.approx(4 * base(arch))
    named = make_cost("peak_mem", space)
    assert named.name == "peak_mem" and named.unit == "MiB" and not named.additive
    assert make_cost("peak_mem:eager", space)(arch) >= named(arch)
    with pytest.raises(TypeError, match="not additive"):
        named.table()
    with pytest.raises(ValueError, match="batch >= 1"):
        PeakMemoryCost(space, setting, batch=0)
    with pytest.raises(ValueError, match="valid forms"):
        make_cost("peak_mem:lazy", space)


def test_expected_cost_methods_refuse_it_with_the_reason() -> None:
    with pytest.raises(ValueError, match="needs an additive cost.*maximum over the forward pass"):
        ParsecConfig(cost="peak_mem", cost_target=1.0)
    with pytest.raises(ValueError, match="needs an additive cost"):
        LatencyLossFields(cost="peak_mem").check_latency_fields()
    with pytest.raises(ValueError, match="needs an additive cost"):
        ParsecConfig(cost="nb201:raspi4", cost_target=1.0)


def test_black_box_strategies_take_it_like_any_cost() -> None:
    space = get_space("nb201")
    cost = PeakMemoryCost(space, space.net_setting("cifar10", num_cells=1, channels=4))
    # accuracy grows with the choices; memory grows with convolutions: a hard target keeps the reward honest
    reward = MnasReward(lambda arch: 50.0 + sum(space.to_choices(arch)), cost, target=0.02, constraint="hard")
    trajectory = run_blackbox(create_blackbox("random", space, seed=0), reward, budget=6)
    assert all(t.result.cost == pytest.approx(cost(t.arch)) for t in trajectory.trials)
    pytest.importorskip("optuna")
    from parsecnas.strategies.nsga2 import NsgaII, NsgaIIConfig

    nsga = NsgaII(space, NsgaIIConfig(population_size=4), seed=0, cost=cost)
    archs = nsga.ask(4)
    nsga.tell(archs, [float(sum(space.to_choices(a))) for a in archs])
    assert nsga.costs_ == pytest.approx([cost(a) for a in archs])
