"""Beat queues no sweep that nobody takes: with the worker down, the embedded broker's
folder does not grow by a sweep per interval, and sweeps resume once a worker takes one."""

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis as redis_lib
from celery import Celery, signals

from gophermart.accrual import sweep_schedule, tasks
from gophermart.accrual.queueing import QUEUE
from gophermart.accrual.sweep_schedule import SWEEP_TASK, FileMarker, RedisMarker, SweepSchedule, marker_for
from tests.support.processes import gophermart_command, service_env, serving

INTERVAL = 0.2


def queued_messages(instance: Path) -> int:
    folder = instance / "broker" / "queue"  # made by beat as it starts
    return sum(1 for name in os.listdir(folder) if name.endswith(".msg")) if folder.is_dir() else 0


def test_beat_with_no_worker_queues_one_sweep_not_one_per_interval(tmp_path):
    env = service_env(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path, SWEEP_INTERVAL_SECONDS=str(INTERVAL))
    with serving(gophermart_command("beat"), env, None) as beat:
        deadline = time.monotonic() + 30
        while queued_messages(tmp_path) == 0 and time.monotonic() < deadline:
            assert beat.poll() is None
            time.sleep(0.1)
        assert queued_messages(tmp_path) == 1
        time.sleep(30 * INTERVAL)  # thirty intervals with nobody taking the sweep
        assert beat.poll() is None
        assert queued_messages(tmp_path) == 1


def schedule_on(celery: Celery) -> SweepSchedule:
    entry = SweepSchedule(timedelta(seconds=INTERVAL), app=celery)
    return entry


def is_due(entry: SweepSchedule) -> bool:
    long_ago = entry.now() - timedelta(seconds=10)
    return entry.is_due(long_ago).is_due


def file_broker(queue_dir: Path) -> Celery:
    queue_dir.mkdir(parents=True)
    celery = Celery("t")
    celery.conf.broker_url = "filesystem://"
    celery.conf.broker_transport_options = {"data_folder_in": str(queue_dir), "data_folder_out": str(queue_dir)}
    return celery


@pytest.fixture
def redis_broker(redis_url):
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    celery = Celery("t")
    celery.conf.broker_url = redis_url
    yield celery, client
    client.flushdb()
    client.close()


def test_a_sweep_is_queued_again_once_the_last_one_was_taken(tmp_path):
    celery = file_broker(tmp_path / "queue")
    entry = schedule_on(celery)
    assert isinstance(marker_for(celery), FileMarker)
    assert is_due(entry)  # nothing waiting: queue one, and mark it
    (tmp_path / "queue" / "1_a.accrual.msg").write_text("{}")  # the broker holds it
    assert not is_due(entry) and not is_due(entry)
    marker_for(celery).clear()  # a worker took it (the sweep clears the marker first thing)
    assert is_due(entry)


def test_a_lost_sweep_is_replaced_but_a_stuck_queue_gets_no_more(tmp_path, monkeypatch):
    celery = file_broker(tmp_path / "queue")
    entry = schedule_on(celery)
    assert is_due(entry)
    monkeypatch.setattr(sweep_schedule, "STALE_SECONDS", 0.0)  # the marker is old now
    (tmp_path / "queue" / "1_a.accrual.msg").write_text("{}")
    assert not is_due(entry)  # messages wait: no worker takes anything, one sweep is enough
    (tmp_path / "queue" / "1_a.accrual.msg").unlink()
    assert is_due(entry)  # marked, yet the queue is empty: the sweep was lost


def test_the_marker_lives_in_redis_with_the_redis_broker(redis_broker, monkeypatch):
    celery, client = redis_broker
    entry = schedule_on(celery)
    assert isinstance(marker_for(celery), RedisMarker)
    assert is_due(entry)
    assert not is_due(entry)
    client.rpush(QUEUE, "a message")
    monkeypatch.setattr(sweep_schedule, "STALE_SECONDS", 0.0)
    assert not is_due(entry)
    client.delete(QUEUE)
    assert is_due(entry)
    marker_for(celery).clear()
    assert client.get(sweep_schedule.MARKER_KEY) is None


def test_the_sweep_and_a_discarded_expired_sweep_take_the_marker_away(app):
    celery = app.extensions["celery"]  # the embedded file broker of the test app
    marker = marker_for(celery)
    marker.mark()
    with app.app_context():
        assert tasks.sweep() == 0  # nothing due; the marker is cleared first thing
    assert marker.age() is None
    marker.mark()
    # What a worker signals when it discards the sweep as expired, without running it.
    signals.task_revoked.send(sender=celery.tasks[SWEEP_TASK], request=None, expired=True)
    assert marker.age() is None
    marker.mark()
    signals.task_revoked.send(sender=celery.tasks["gophermart.check_order"], request=None, expired=True)
    assert marker.age() is not None  # only a sweep's
    marker.clear()
