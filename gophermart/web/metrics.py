"""Prometheus metrics at /metrics.

HTTP requests by endpoint and status with latency histograms come from
prometheus-flask-exporter. Under `gophermart web` (gunicorn, several processes) they are
aggregated across processes through PROMETHEUS_MULTIPROC_DIR; with a plain single-process
server they are that process's own. The domain metrics — orders by status, accrual calls
by outcome, the current pause and pace, queue depth — are read from the shared stores
(database, Redis) at scrape time, so every web process reports the whole deployment.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_flask_exporter import PrometheusMetrics

from gophermart.extensions import db

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # set by gophermart.runtime.web_server before this import


def register_metrics(app: Flask) -> None:
    domain = DomainCollector(app)
    if os.path.isdir(os.environ.get(MULTIPROC_ENV, "")):
        from prometheus_client import multiprocess
        from prometheus_client.exposition import choose_encoder
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        class MultiProcessMetrics(GunicornInternalPrometheusMetrics):
            def generate_metrics(self, accept_header=None, names=None):
                # The exporter builds a fresh registry from the workers' files for every
                # scrape, leaving out collectors registered on its own registry: the
                # domain metrics are added to that fresh one here.
                registry = CollectorRegistry()
                multiprocess.MultiProcessCollector(registry)
                registry.register(domain)
                generate_latest, content_type = choose_encoder(accept_header)
                exposed = registry.restricted_registry(names) if names else registry
                return generate_latest(exposed).decode("utf-8"), content_type

        MultiProcessMetrics(app, group_by="endpoint", defaults_prefix="gophermart")
    else:
        metrics = PrometheusMetrics(
            app, registry=CollectorRegistry(), group_by="endpoint", defaults_prefix="gophermart"
        )
        metrics.registry.register(domain)


class DomainCollector:
    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        from gophermart.accrual.connections import accrual_gate
        from gophermart.accrual.queueing import queue_depth

        with self.app.app_context():
            orders = GaugeMetricFamily("gophermart_orders", "Handed-in orders by status.", labels=["status"])
            counts: dict[str, int] = dict(
                db.session.execute(sa.text("SELECT status, count(*) FROM orders GROUP BY status")).all()
            )
            parked = db.session.execute(sa.text("SELECT count(*) FROM orders WHERE parked_at IS NOT NULL")).scalar()
            db.session.remove()
            for status in ("NEW", "PROCESSING", "INVALID", "PROCESSED"):
                orders.add_metric([status], counts.get(status, 0))
            yield orders
            yield GaugeMetricFamily("gophermart_orders_parked", "Orders whose checks crashed too often.", value=parked)

            gate = accrual_gate()
            calls = CounterMetricFamily(
                "gophermart_accrual_calls", "Accrual system requests by outcome.", labels=["outcome"]
            )
            for outcome, count in sorted(gate.call_counts().items()):
                calls.add_metric([outcome], count)
            yield calls
            state = gate.state()
            yield GaugeMetricFamily(
                "gophermart_accrual_pause_seconds", "Seconds left in the shared 429 pause.", value=state.paused_for
            )
            yield GaugeMetricFamily(
                "gophermart_accrual_pace_per_second", "Shared request pace (0 = unlimited).", value=state.rate
            )
            yield GaugeMetricFamily(
                "gophermart_accrual_calc_estimate_seconds", "Learned calculation time.", value=state.calc_estimate
            )
            depth = queue_depth()
            if depth is not None:
                yield GaugeMetricFamily("gophermart_queue_depth", "Messages waiting in the accrual queue.", value=depth)
