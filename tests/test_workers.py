import pytest
import torch

from helpers.workers import in_processes


def test_results_come_in_order_with_the_requested_threads_in_any_number_of_processes():
    before = torch.get_num_threads()
    calls = [lambda index=index: (index, torch.get_num_threads()) for index in range(5)]
    expected = [(index, 2) for index in range(5)]
    assert list(in_processes(calls, n_jobs=1, threads=2)) == list(in_processes(calls, n_jobs=2, threads=2)) == expected
    assert torch.get_num_threads() == before
    assert list(in_processes([], n_jobs=2)) == []


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="n_jobs and threads must be at least 1, got n_jobs=0, threads=1"):
        in_processes([], n_jobs=0)
