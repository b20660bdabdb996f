"""Threads of a run: asked, else the count a resumed run started with; what is said when it matters."""

import pytest
import torch

from curriculum.run.loop import set_threads


@pytest.fixture(autouse=True)
def _restore():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_a_resume_takes_the_recorded_count_and_says_so():
    torch.set_num_threads(2)
    assert "resuming with 1 threads, as the run started" in set_threads(recorded=1, asked=None)
    assert torch.get_num_threads() == 1
    assert set_threads(recorded=1, asked=None) is None  # already 1: nothing to say


def test_asking_another_count_than_recorded_warns_even_when_it_is_the_current_one():
    torch.set_num_threads(2)
    note = set_threads(recorded=1, asked=2)
    assert note.startswith("warning: resuming with 2 threads, the run started with 1")
    assert torch.get_num_threads() == 2


def test_a_new_run_takes_what_is_asked_silently():
    torch.set_num_threads(2)
    assert set_threads(recorded=None, asked=1) is None and torch.get_num_threads() == 1
    assert set_threads(recorded=None, asked=None) is None and torch.get_num_threads() == 1
    with pytest.raises(Exception, match="at least 1"):
        set_threads(recorded=None, asked=0)
