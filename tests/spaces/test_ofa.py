"""The elastic space and its architecture value."""

from __future__ import annotations

import pytest
import torch

from parsecnas.spaces import ElasticArch, get_space
from parsecnas.spaces.ofa import DIMENSIONS, OfaSpace


def test_decisions_cover_resolution_width_and_each_stage_and_slot() -> None:
    space = OfaSpace()
    names = [d.name for d in space.decisions]
    assert names[:3] == ["resolution", "width", "stage0/depth"]
    assert len(names) == 2 + 4 * (1 + 2 * 4)
    assert {space.dimension(d) for d in space.decisions} == set(DIMENSIONS)
    assert [d.choices for d in space.decisions[:3]] == [("24", "28", "32"), ("0.75", "1.0"), ("2", "3", "4")]


def test_largest_and_smallest_are_the_last_and_first_choices() -> None:
    space = OfaSpace()
    assert space.to_choices(space.largest()) == tuple(d.size - 1 for d in space.decisions)
    assert space.to_choices(space.smallest()) == (0,) * len(space.decisions)
    only_kernel = space.smallest(("kernel",))
    assert only_kernel.depths == (4,) * 4 and only_kernel.width == 1.0 and only_kernel.resolution == 32
    assert set(only_kernel.kernels[0]) == {3} and set(only_kernel.expands[0]) == {6}


def test_sampling_keeps_non_elastic_dimensions_at_their_largest() -> None:
    space, gen = OfaSpace(), torch.Generator().manual_seed(0)
    archs = [space.sample(gen, ("depth",)) for _ in range(20)]
    assert {a.depths for a in archs} != {(4, 4, 4, 4)}
    assert all(a.resolution == 32 and a.width == 1.0 and set(a.kernels[1]) == {7} for a in archs)


def test_string_form_round_trips_and_bad_strings_say_the_form() -> None:
    space = get_space("ofa")
    text = "r28-w0.75|d2:k3e6,k5e4,k7e3,k3e3|d3:k3e3,k3e3,k3e3,k3e3|d4:k7e6,k7e6,k7e6,k7e6|d2:k5e4,k5e4,k5e4,k5e4"
    assert space.format(space.parse(text)) == text
    with pytest.raises(ValueError, match="expected the form"):
        space.parse("r28|d2")
    with pytest.raises(ValueError, match="not in the ofa space.*kernel 9"):
        space.parse(text.replace("k3e6", "k9e6"))


def test_value_checks_and_scaling_for_compound_scaling() -> None:
    arch = ElasticArch.parse("r24-w1.0|d2:k3e6,k5e4|d1:k7e3,k3e3")
    deeper = arch.scaled(resolution=40, width=1.25, depths=(3, 2))
    assert (deeper.resolution, deeper.width, deeper.depths) == (40, 1.25, (3, 2))
    assert deeper.kernels == ((3, 5, 5), (7, 3)) and deeper.expands == ((6, 4, 4), (3, 3))
    assert ElasticArch.parse(str(deeper)) == deeper
    with pytest.raises(ValueError, match="odd"):
        ElasticArch(24, 1.0, (1,), ((4,),), ((3,),))
    with pytest.raises(ValueError, match="depth 3"):
        ElasticArch(24, 1.0, (3,), ((3, 3),), ((3, 3),))


def test_network_options_are_checked() -> None:
    space = OfaSpace()
    with pytest.raises(ValueError, match="num_cells"):
        space.supernet(num_cells=5)
    with pytest.raises(ValueError, match="unknown ofa network options"):
        space.supernet(stem_multiplier=3)
    with pytest.raises(ValueError, match="auxiliary"):
        space.build(space.largest(), auxiliary=True)
