"""Celery bound to the Flask app (Flask's documented pattern): every task runs in an app context.

The settings below make delivery at-least-once; the tasks are idempotent, so running one
twice is harmless, and the orders table (not the broker) keeps the schedule.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from celery import Celery, Task, signals
from flask import Flask
from kombu import Queue

from config import Settings
from gophermart.accrual import redis_transport  # noqa: F401  (redis:// through kombu's transport, fixed: see there)
from gophermart.accrual.checks import LEASE_SECONDS
from gophermart.accrual.queueing import QUEUE, REQUEST_ID_HEADER, file_broker_dir
from gophermart.accrual.sweep_schedule import SWEEP_TASK, SweepSchedule
from gophermart.extensions import db
from gophermart.logging import configure_logging
from gophermart.logging import request_id as current_request_id
from gophermart.logging import task_id as current_task_id

# The file-based broker's folders under INSTANCE_DIR/broker.
BROKER_FOLDERS = ("queue", "control", "processed")


def broker_options(settings: Settings) -> dict:
    if settings.redis_url:
        return {
            "broker_url": settings.redis_url,
            # Far above any countdown (10 s at most) plus a task's run time (60 s at most), so
            # a waiting or running late-ack task is never delivered twice; longer waits are
            # kept in the database (next_check_at).
            "broker_transport_options": {"visibility_timeout": 3600},
        }
    # No Redis: a broker that needs no server, for the embedded single-machine run. Every
    # folder it writes is named here, under the instance folder: kombu's defaults are relative
    # to the working directory, which may be read-only (the image's /app) and is not data.
    queue_dir = file_broker_dir(settings.instance_dir)
    for sub in BROKER_FOLDERS:
        (queue_dir / sub).mkdir(parents=True, exist_ok=True)
    return {
        "broker_url": "filesystem://",
        "broker_transport_options": {
            "data_folder_in": str(queue_dir / "queue"),
            "data_folder_out": str(queue_dir / "queue"),
            # The exchange tables (bindings, the workers' broadcast pidbox); unset, `./control`.
            "control_folder": str(queue_dir / "control"),
            "processed_folder": str(queue_dir / "processed"),
            "store_processed": False,
            # The folder is polled: often enough for prompt checks and a quick shutdown.
            "polling_interval": 0.2,
        },
    }


def celery_config(settings: Settings) -> dict:
    return {
        **broker_options(settings),
        "task_ignore_result": True,  # tasks write their results to the database
        "task_default_queue": QUEUE,
        "task_queues": [Queue(QUEUE)],
        # Acknowledge after the task ran, so a crash mid-task leaves the message to redeliver…
        "task_acks_late": True,
        # …also when the pool child running it dies (late acks alone cover only the parent).
        "task_reject_on_worker_lost": True,
        # One message reserved per process: a killed worker strands at most that many.
        "worker_prefetch_multiplier": 1,
        # A stuck HTTP call or query must not hold a worker slot forever. Only a prefork pool
        # enforces these; the service's threads pool cannot, and relies on the accrual client's
        # timeouts, Redis' socket timeouts and the worker's statement timeout (bound_statements).
        "task_soft_time_limit": 45,
        "task_time_limit": 60,
        # Keep reconnecting to the broker forever instead of exiting after 100 tries.
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        # On a broker connection loss, late-ack tasks are redelivered: stop ours to avoid twins.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        # The web answers quickly even with the broker down; the sweep re-queues the order.
        "broker_connection_timeout": 2,
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.2},
        "worker_hijack_root_logger": False,
        "beat_schedule": {
            "sweep-overdue-orders": {
                "task": SWEEP_TASK,
                # Not while the sweep queued last still waits: none pile up while no worker runs.
                "schedule": SweepSchedule(timedelta(seconds=settings.sweep_interval_seconds)),
                # A sweep nobody ran in time is worthless: the next one covers it.
                "options": {"expires": max(2.0, settings.sweep_interval_seconds * 2)},
            }
        },
        "beat_schedule_filename": str(Path(settings.instance_dir) / "celerybeat-schedule"),
    }


def init_celery(app: Flask) -> Celery:
    settings: Settings = app.config["SETTINGS"]

    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask)
    celery.config_from_object(celery_config(settings))
    celery.set_default()
    app.extensions["celery"] = celery

    @signals.setup_logging.connect(weak=False)
    def use_service_logging(**_kwargs) -> None:
        configure_logging(settings.log_level, settings.log_format)

    # Once per process however many apps it makes (dispatch_uid): each task's lines carry
    # its own id and the request id its message brought along.
    signals.task_prerun.connect(_enter_task_log_context, weak=False, dispatch_uid="gophermart-log-context")
    signals.task_postrun.connect(_leave_task_log_context, weak=False, dispatch_uid="gophermart-log-context")

    @signals.worker_init.connect(weak=False)
    def limit_the_workers_statements(**_kwargs) -> None:
        with app.app_context():
            bound_statements(db.engine)

    import gophermart.accrual.tasks  # noqa: F401  (registers the tasks)

    return celery


def bound_statements(engine: sa.Engine) -> None:
    """PostgreSQL cancels a worker's statement that runs longer than a check's lease: no pool
    time limit stops a thread stuck in one, and by then the sweep has given the order to
    another check anyway."""
    if engine.dialect.name != "postgresql":
        return

    @sa.event.listens_for(engine, "connect")
    def _statement_timeout(dbapi_connection, _record) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {int(LEASE_SECONDS * 1000)}")
        dbapi_connection.commit()

    engine.dispose()  # connections opened before (there are none at start, normally) go


def _enter_task_log_context(task_id: str | None = None, task: Task | None = None, **_kwargs) -> None:
    context = task.request if task is not None else None
    # Celery hands a message's custom headers to the task as request attributes.
    story = getattr(context, REQUEST_ID_HEADER, None) or (getattr(context, "headers", None) or {}).get(
        REQUEST_ID_HEADER
    )
    current_request_id.set(story)
    current_task_id.set(task_id)


def _leave_task_log_context(**_kwargs) -> None:
    current_request_id.set(None)
    current_task_id.set(None)
