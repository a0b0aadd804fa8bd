from __future__ import annotations

import pytest
import torch
from _ranks import run_ranks

from parsecnas.run.distributed import Distributed, RankError


def test_shards_cover_every_item_once_in_order() -> None:
    for n in range(0, 9):
        for world in (1, 2, 3):
            spans = [Distributed(r, world).shard(n) for r in range(world)]
            assert [i for s in spans for i in s] == list(range(n))
            assert max(map(len, spans)) - min(map(len, spans)) <= 1


def test_alone_every_collective_returns_its_input() -> None:
    d = Distributed()
    t = torch.tensor([1.0, 2.0])
    assert d.all_sum(t) is t and d.gather(t, 2) is t and d.share(5) == 1.0
    assert d.mean_stats({"loss": 2.5}) == {"loss": 2.5} and d.on_main(lambda: 3) == 3


def test_rank_and_world_are_validated() -> None:
    with pytest.raises(ValueError, match="rank < world_size"):
        Distributed(2, 2)


def _collectives(d: Distributed, out) -> None:
    local = torch.arange(len(d.shard(5)), dtype=torch.float32) + 10 * d.rank
    grads = [torch.full((2, 2), float(d.rank + 1)), torch.full((3,), 1.0)]
    d.sum_(grads)
    result = {"gathered": d.gather(local, 5), "sum": grads, "share": d.share(3 if d.rank == 0 else 1),
              "stats": d.mean_stats({"a": float(d.rank), "b": 1.0}), "main": d.on_main(lambda: f"rank{d.rank}")}
    try:
        d.main_first(lambda: 1 / (d.rank - d.rank))  # fails on rank 0: the other rank must raise, not hang
    except RankError as error:
        result["other_rank_error"] = str(error)
    except ZeroDivisionError:
        pass
    torch.save(result, out / f"rank{d.rank}.pt")


def test_two_ranks_gather_sum_share_and_agree_on_rank_0s_failure(tmp_path) -> None:
    run_ranks(_collectives, 2, tmp_path, tmp_path)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    assert r0["gathered"].tolist() == r1["gathered"].tolist() == [0.0, 1.0, 2.0, 10.0, 11.0]
    for r in (r0, r1):
        assert r["sum"][0].tolist() == [[3.0, 3.0], [3.0, 3.0]] and r["sum"][1].tolist() == [2.0, 2.0, 2.0]
        assert r["stats"] == {"a": 0.5, "b": 1.0} and r["main"] == "rank0"
    assert (r0["share"], r1["share"]) == (0.75, 0.25)
    assert "other_rank_error" not in r0 and "ZeroDivisionError" in r1["other_rank_error"]
