"""Fixtures for the accrual simulator tests.

``simulator_factory`` starts the real simulator (``python -m accrual_sim`` or the
``gophermart-accrual`` console script) as a subprocess on a free 127.0.0.1
port, waits until the port answers and returns a ``RunningSimulator``
(see ``tests.support.simulator``). Every simulator it started is stopped with SIGINT at the
end of the module and must exit with code 0.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator, Mapping

import pytest

from tests.support.simulator import FakeClock, RunningSimulator, start_simulator


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def simulator_factory() -> Iterator[Callable[..., RunningSimulator]]:
    """``start(*flags, env={...}, use_console_script=False)``; all are stopped (SIGINT, exit 0) at module end."""
    started: list[RunningSimulator] = []

    def start(*args: str, env: Mapping[str, str] | None = None, use_console_script: bool = False):
        sim = start_simulator(args, env=env, use_console_script=use_console_script)
        started.append(sim)
        return sim

    yield start
    failures = []
    for sim in started:
        if not sim.stopped:
            code = sim.stop(signal.SIGINT)
            if code != 0:
                failures.append(f"exit code {code}:\n{sim.output()}")
        sim.log_path.unlink(missing_ok=True)
    assert not failures, "\n".join(failures)
