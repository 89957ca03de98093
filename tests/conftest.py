"""Settings of the test session.

The suite runs in parallel (pytest-xdist, ``-n auto --dist loadfile`` in
pyproject.toml). It is bound by compiling programs, one core per worker, so
it runs a worker per core, up to four (each worker holds up to about 2.5 GB,
and past four the ~1,000 tests gain little). Each file runs on one worker:
its module fixtures, and the programs they compile, are made once (19% less
CPU time than spreading single tests). ``-n 0`` runs it in one process.
"""

from __future__ import annotations

import os

MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_WORKERS))
