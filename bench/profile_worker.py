"""`gophermart worker` under cProfile, for the pipeline benchmark's BENCH_PROFILE_DIR switch.

The worker's main process is profiled whole; each prefork pool process from its start to
its exit, and with the threads pool each task in its thread. Every profile is written to
BENCH_PROFILE_DIR as `<kind>-<pid>.prof` when the worker stops (read them with pstats).
Times are the thread's own CPU time, not wall time: waiting on a socket costs nothing.
"""

from __future__ import annotations

import cProfile
import os
import sys
import threading
import time
from pathlib import Path

from celery import signals

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gophermart.runtime.cli import main

OUT = Path(os.environ["BENCH_PROFILE_DIR"])
_pool = cProfile.Profile(time.thread_time)
_threads = threading.local()
_thread_profiles: list[cProfile.Profile] = []


@signals.worker_process_init.connect
def _pool_process_starts(**_kwargs) -> None:
    _pool.enable()


@signals.worker_process_shutdown.connect
def _pool_process_stops(**_kwargs) -> None:
    _pool.disable()
    _pool.dump_stats(OUT / f"pool-{os.getpid()}.prof")


@signals.task_prerun.connect
def _task_starts(**_kwargs) -> None:
    if threading.current_thread() is threading.main_thread():
        return  # the prefork pool's process, profiled whole
    if not hasattr(_threads, "profile"):
        _threads.profile = cProfile.Profile(time.thread_time)
        _thread_profiles.append(_threads.profile)
    _threads.profile.enable()


@signals.task_postrun.connect
def _task_ends(**_kwargs) -> None:
    if hasattr(_threads, "profile"):
        _threads.profile.disable()


if __name__ == "__main__":
    whole = cProfile.Profile(time.thread_time)
    whole.enable()
    try:
        main(sys.argv[1:])
    finally:
        whole.disable()
        whole.dump_stats(OUT / f"main-{os.getpid()}.prof")
        for n, profile in enumerate(_thread_profiles):
            profile.dump_stats(OUT / f"thread{n}-{os.getpid()}.prof")
