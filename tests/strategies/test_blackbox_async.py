"""Asynchronous ask/tell: every asked architecture is evaluated once and the budget is used exactly; with one
worker it is the synchronous loop; in-process it is deterministic; the record of a run replays to its state;
a run directory killed mid-way resumes (in-process: to the uninterrupted records)."""

from __future__ import annotations

import pytest
import torch

from parsecnas.blackbox_run import BlackBoxConfig, run_blackbox_search, trajectory_of
from parsecnas.run import Run
from parsecnas.run.ray_pool import SequentialPool
from parsecnas.spaces import get_space
from parsecnas.strategies import TrialState, create_blackbox, run_blackbox
from parsecnas.strategies.blackbox_async import AsyncTrials, replay_async, run_blackbox_async

SPACE = get_space("nb201")


def _score(arch) -> float:
    choices = SPACE.to_choices(arch)
    if choices[0] == 0 and choices[1] == 0:
        raise RuntimeError("simulated crash")
    return float(choices.count(3) + 0.1 * sum(choices))


@pytest.mark.parametrize("name", ["evolution", "random", "reinforce"])
def test_every_ask_is_evaluated_once_within_the_budget(name) -> None:
    trajectory = run_blackbox_async(create_blackbox(name, SPACE, seed=2), _score, 30, 4, SequentialPool(),
                                    (RuntimeError,))
    assert [t.number for t in trajectory.trials] == list(range(30))  # in-process: told in the ask order
    failed = [t for t in trajectory.trials if t.state is TrialState.FAIL]
    assert len(trajectory.archs) == 30 - len(failed)


def test_one_worker_is_the_synchronous_loop_and_the_run_is_deterministic_in_process() -> None:
    one = run_blackbox_async(create_blackbox("evolution", SPACE, seed=1), _score, 25, 1, SequentialPool(),
                             (RuntimeError,))
    sync = run_blackbox(create_blackbox("evolution", SPACE, seed=1), _score, 25, 1, (RuntimeError,))
    assert one.archs == sync.archs and one.scores == sync.scores
    runs = [run_blackbox_async(create_blackbox("evolution", SPACE, seed=1), _score, 25, 4, SequentialPool(),
                               (RuntimeError,)) for _ in range(2)]
    assert runs[0].archs == runs[1].archs


def test_the_next_ask_comes_after_each_tell_not_after_a_batch() -> None:
    strategy = create_blackbox("random", SPACE, seed=0)
    events: list[str] = []
    ask, tell = strategy.ask, strategy.tell
    strategy.ask = lambda n=1: events.append(f"ask{n}") or ask(n)  # type: ignore[method-assign]
    strategy.tell = lambda a, r: events.append("tell") or tell(a, r)  # type: ignore[method-assign]
    list(AsyncTrials(strategy, lambda arch: 1.0, SequentialPool(), budget=6, workers=3))
    assert events == ["ask3", "tell", "ask1", "tell", "ask1", "tell", "ask1", "tell", "tell", "tell"]


def test_a_record_replays_to_the_state_of_the_run_and_a_foreign_record_is_refused() -> None:
    strategy = create_blackbox("evolution", SPACE, seed=3)
    trials = list(AsyncTrials(strategy, _score, SequentialPool(), 20, 3, (RuntimeError,)))
    trials = trials[1:2] + trials[:1] + trials[2:]  # a tell order Ray might have produced: replay follows it
    replayed = replay_async("evolution", SPACE, None, 3, trials, 20, 3)
    assert len(replayed.history_) == sum(t.state is TrialState.COMPLETE for t in trials)
    with pytest.raises(ValueError, match="replayed run asked"):
        replay_async("evolution", SPACE, None, 4, trials, 20, 3)


def test_a_killed_asynchronous_run_resumes_to_the_uninterrupted_records(data_dir, tmp_path, monkeypatch) -> None:
    config = BlackBoxConfig(strategy="evolution", budget=14, batch_size=3, seed=6, data_dir=str(data_dir),
                            asynchronous=True)
    run_blackbox_search(config, tmp_path / "full")
    original, saved = Run.save_checkpoint, []

    def dying_save(self, state, *args, **kwargs):  # killed after logging trial 7, before its checkpoint
        saved.append(state["trial"])
        if len(saved) == 7:
            raise KeyboardInterrupt
        original(self, state, *args, **kwargs)

    monkeypatch.setattr(Run, "save_checkpoint", dying_save)
    with pytest.raises(KeyboardInterrupt):
        run_blackbox_search(config, tmp_path / "killed")
    monkeypatch.setattr(Run, "save_checkpoint", original)
    assert len(Run(tmp_path / "killed").metrics()) == 7
    state = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=False)
    assert state["trial"] == 6 and state["asked"] == 9 and [n for n, _ in state["pending"]] == [6, 7, 8]
    run_blackbox_search(config, tmp_path / "killed", resume=True)
    strip = lambda folder: [{k: v for k, v in r.items() if k != "time_s"} for r in Run(folder).metrics()]  # noqa: E731
    assert strip(tmp_path / "killed") == strip(tmp_path / "full") and len(strip(tmp_path / "full")) == 14
    assert Run(tmp_path / "full").config()["asynchronous"] is True  # it changes the results: it is stored
    trials = trajectory_of(tmp_path / "full").trials
    assert replay_async("evolution", SPACE, None, 6, trials, 14, 3).state_dict()["history"] == \
        torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=False)["strategy"]["history"]
