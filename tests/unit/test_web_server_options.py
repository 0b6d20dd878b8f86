"""The gunicorn options `gophermart web` and `gunicorn wsgi:app` share: the worker model."""

import pytest

from config import SettingsError, load_settings
from gophermart.runtime.web_server import gunicorn_options


def options(**environ: str) -> dict:
    return gunicorn_options(load_settings(argv=[], environ=environ))


def test_sync_workers_serve_one_request_at_a_time_whatever_web_threads_says():
    # gunicorn would run a sync worker with more than one thread as gthread.
    chosen = options(WEB_WORKER_CLASS="sync", WEB_WORKERS="3", WEB_THREADS="8")
    assert (chosen["worker_class"], chosen["workers"], chosen["threads"]) == ("sync", 3, 1)


def test_gthread_workers_take_web_threads():
    chosen = options(WEB_WORKER_CLASS="GThread", WEB_WORKERS="2", WEB_THREADS="8")
    assert (chosen["worker_class"], chosen["workers"], chosen["threads"]) == ("gthread", 2, 8)


@pytest.mark.parametrize("value", ["gevent", "eventlet", "tornado", ""])
def test_another_worker_class_is_refused_by_name(value):
    with pytest.raises(SettingsError, match="WEB_WORKER_CLASS"):
        load_settings(argv=[], environ={"WEB_WORKER_CLASS": value})
