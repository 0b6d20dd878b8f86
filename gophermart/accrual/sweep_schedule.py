"""Beat queues a sweep only when none is waiting.

Beat would queue one sweep per interval whether or not a worker takes them: during a
worker outage they pile up (a day is 86 400 messages), and the embedded file broker lists
and sorts its whole folder for every message it delivers. A marker beside the broker (a
file next to the queue folder, or a Redis key) says a sweep was queued and not taken yet;
the sweep clears it when it starts, and so does a worker that discards it as expired.
A marker older than STALE_SECONDS with an empty queue means the message was lost (a
broker wiped): beat queues a new one.
"""

from __future__ import annotations

import logging
import os
import time
from abc import ABC, abstractmethod
from functools import cache
from pathlib import Path

from celery import Celery
from celery.schedules import schedstate, schedule

from gophermart.accrual.connections import redis_at
from gophermart.accrual.queueing import QUEUE

log = logging.getLogger(__name__)

SWEEP_TASK = "gophermart.sweep"
STALE_SECONDS = 60.0
MARKER_KEY = "gophermart:sweep-waiting"


class SweepMarker(ABC):
    @abstractmethod
    def mark(self) -> None: ...
    @abstractmethod
    def clear(self) -> None: ...
    @abstractmethod
    def age(self) -> float | None: ...  # seconds since marked; None when clear
    @abstractmethod
    def queue_empty(self) -> bool: ...

    def waiting(self) -> bool:
        """A sweep was queued and is still waiting for a worker (or the queue is not
        moving at all: a worker outage, during which one waiting sweep is enough)."""
        age = self.age()
        if age is None:
            return False
        return age < STALE_SECONDS or not self.queue_empty()


class FileMarker(SweepMarker):
    """The embedded broker: a file beside its queue folder (beat and worker share the disk)."""

    def __init__(self, queue_dir: Path):
        self.queue_dir = queue_dir
        self.path = queue_dir.parent / "sweep-waiting"

    def mark(self) -> None:
        self.path.touch()  # on an existing marker, its time too

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)

    def age(self) -> float | None:
        try:
            return time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return None

    def queue_empty(self) -> bool:
        with os.scandir(self.queue_dir) as entries:  # stops at the first message
            return not any(entry.name.endswith(".msg") for entry in entries)


class RedisMarker(SweepMarker):
    def __init__(self, url: str):
        self.client = redis_at(url)

    def mark(self) -> None:
        self.client.set(MARKER_KEY, repr(time.time()))

    def clear(self) -> None:
        self.client.delete(MARKER_KEY)

    def age(self) -> float | None:
        value = self.client.get(MARKER_KEY)
        return None if value is None else time.time() - float(value)

    def queue_empty(self) -> bool:
        return int(self.client.llen(QUEUE)) == 0


@cache
def _marker(broker_url: str, queue_dir: str | None) -> SweepMarker:
    if queue_dir is not None:
        return FileMarker(Path(queue_dir))
    return RedisMarker(broker_url)


def marker_for(celery: Celery) -> SweepMarker:
    """The marker of this Celery app's broker."""
    conf = celery.conf
    url = str(conf.broker_url)
    queue_dir = conf.broker_transport_options.get("data_folder_in") if url.startswith("filesystem") else None
    return _marker(url, queue_dir)


class SweepSchedule(schedule):
    """Every `run_every`, unless the sweep queued last is still waiting for a worker."""

    def is_due(self, last_run_at):
        state = super().is_due(last_run_at)
        if not state.is_due:
            return state
        try:
            marker = marker_for(self.app)
            if marker.waiting():
                return schedstate(False, state.next)
            marker.mark()
        except Exception:  # the marker's store is down: queue as before, never stop sweeping
            log.warning("could not read the sweep marker; queueing the sweep", exc_info=True)
        return state
