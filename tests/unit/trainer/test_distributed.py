"""The one-process side of `trainer.distributed` and the resume rules for a job's ranks; the collectives
themselves run in tests/e2e/test_distributed.py (two processes)."""

import pytest

from curriculum.run.display import Silent
from curriculum.run.loop import check_ranks
from curriculum.run.setup import RunError
from trainer.distributed import Dist, RankLost, lost, start


def test_a_rank_takes_every_world_th_item_and_interleave_puts_them_back():
    assert Dist(rank=1, world=3).mine(8) == [1, 4, 7]
    assert Dist(rank=0, world=3).mine(2) == [0] and Dist(rank=2, world=3).mine(2) == []
    one = Dist()
    assert one.mine(3) == [0, 1, 2] and one.interleave(["a", "b", "c"], 3) == ["a", "b", "c"]
    assert one.sum([1, 2.5]) == [1.0, 2.5] and one.gather({"x": 1}) == [{"x": 1}]


def test_one_process_starts_no_process_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert start("cpu") == Dist()


def test_world_size_without_torchrun_is_refused_with_the_command(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    for key in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(Exception, match="torchrun --nproc_per_node N -m curriculum train"):
        start("cpu")


def test_a_failed_collective_becomes_one_clear_error_only_in_a_job_of_several_ranks():
    gloo = RuntimeError("[../gloo/transport/tcp/pair.cc:534] Connection closed by peer [127.0.0.1]:1234")
    clear = lost(Dist(rank=0, world=2), gloo)
    assert isinstance(clear, RankLost) and "rank 0: another rank failed" in str(clear)
    assert "Connection closed by peer" in str(clear) and "CURRICULUM_DIST_TIMEOUT" in str(clear)
    assert lost(Dist(), gloo) is None  # one process: a bug, shown as it is
    assert lost(Dist(rank=0, world=2), ValueError("a bug")) is None
    assert lost(Dist(rank=0, world=2), RuntimeError("shape mismatch")) is None


def test_resume_on_another_world_size_warns_and_across_fsdp_is_refused():
    said = []

    class Lines(Silent):
        def line(self, text: str) -> None:
            said.append(text)

    ddp2 = {"ranks": {"world": 2, "parallel": "ddp"}}
    check_ranks(ddp2, 2, "ddp", Lines())
    assert said == []
    check_ranks(ddp2, 1, "ddp", Lines())  # one process: the parallel kind does not apply
    check_ranks({}, 4, "ddp", Lines())  # a one-process run resumed on 4 ranks
    assert len(said) == 2 and "started on 2" in said[0] and "started on 1" in said[1]
    with pytest.raises(RunError, match="training.parallel=fsdp"):
        check_ranks({"ranks": {"world": 2, "parallel": "fsdp"}}, 2, "ddp", Lines())
    with pytest.raises(RunError, match="sharded|whole"):
        check_ranks({}, 2, "fsdp", Lines())
    check_ranks({"ranks": {"world": 2, "parallel": "fsdp"}}, 4, "fsdp", Lines())  # resharded on load
