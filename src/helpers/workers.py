"""Independent computations run in worker processes, with results that do not depend on how many.

:func:`in_processes` runs functions of no arguments in ``n_jobs`` joblib worker processes (or in
this process), each with a set number of torch threads, and returns their results in order. The
artifact cache (:meth:`helpers.cache.ArtifactCache.get_or_compute_many`) and the analyses that
run one computation per layer or network use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import torch
from joblib import Parallel, delayed

T = TypeVar("T")


def in_processes(calls: Sequence[Callable[[], T]], n_jobs: int = 1, threads: int = 1) -> Iterator[T]:
    """The results of ``calls``, in order, as they finish: computed in ``n_jobs`` worker
    processes (1: here, one after the other), each call with torch set to ``threads`` intra-op
    threads (restored afterwards), so that the results are the same for any ``n_jobs``. The calls
    are sent to the workers with cloudpickle (closures are fine). Consume the iterator to its end:
    joblib cancels, with a warning, the work of one dropped early."""
    if n_jobs < 1 or threads < 1:
        raise ValueError(f"n_jobs and threads must be at least 1, got n_jobs={n_jobs}, threads={threads}")
    if n_jobs == 1:
        return (_with_threads(call, threads) for call in calls)
    return Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_with_threads)(call, threads) for call in calls)


def _with_threads(compute: Callable[[], T], threads: int) -> T:
    """``compute()`` with torch set to ``threads`` intra-op threads (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return compute()
    finally:
        torch.set_num_threads(before)
