"""Prometheus metrics at /metrics.

HTTP requests by endpoint and status with latency histograms come from
prometheus-flask-exporter. Under `gophermart web` (gunicorn, several processes) they are
aggregated across processes through PROMETHEUS_MULTIPROC_DIR; with a plain single-process
server they are that process's own. The domain metrics — orders by status, accrual calls
by outcome, the current pause and pace, queue depth — are read from the shared stores
(database, Redis) at scrape time, so every web process reports the whole deployment. A
scrape reads a few rows whatever the data's size: orders are counted by triggers as they
change (order_counts), never by scanning the orders table.

With METRICS_ADDRESS set, the API answers 404 for /metrics and gunicorn's master serves
the metrics on that address instead (start_metrics_server), off the public port.
"""

from __future__ import annotations

import logging
import os

import sqlalchemy as sa
from flask import Flask
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_flask_exporter import PrometheusMetrics

from config.settings import parse_address
from gophermart.extensions import db
from gophermart.models import PARKED, OrderCount, OrderStatus

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # set by gophermart.runtime.web_server before this import


def register_metrics(app: Flask) -> None:
    domain = DomainCollector(app)
    # Served apart (start_metrics_server): the API records requests but has no /metrics.
    path = None if app.config["SETTINGS"].metrics_address else "/metrics"
    if os.path.isdir(os.environ.get(MULTIPROC_ENV, "")):
        from prometheus_client.exposition import choose_encoder
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        class MultiProcessMetrics(GunicornInternalPrometheusMetrics):
            def register_endpoint(self, path, app=None):
                if path is not None:  # this exporter registers one even when told not to
                    super().register_endpoint(path, app)

            def generate_metrics(self, accept_header=None, names=None):
                # The exporter builds a fresh registry from the workers' files for every
                # scrape, leaving out collectors registered on its own registry: the
                # domain metrics are added to that fresh one here.
                registry = deployment_registry(domain)
                generate_latest, content_type = choose_encoder(accept_header)
                exposed = registry.restricted_registry(names) if names else registry
                return generate_latest(exposed).decode("utf-8"), content_type

        MultiProcessMetrics(app, path=path, group_by="endpoint", defaults_prefix="gophermart")
    else:
        metrics = PrometheusMetrics(
            app, path=path, registry=CollectorRegistry(), group_by="endpoint", defaults_prefix="gophermart"
        )
        metrics.registry.register(domain)


def deployment_registry(domain: DomainCollector) -> CollectorRegistry:
    """The whole deployment's metrics: every gunicorn worker's HTTP metrics (shared through
    the metrics folder, when there is one) and the domain ones."""
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    if os.path.isdir(os.environ.get(MULTIPROC_ENV, "")):
        multiprocess.MultiProcessCollector(registry)
    registry.register(domain)
    return registry


# A few dozen rows, whatever the number of orders (see OrderCount).
ORDER_COUNTS = sa.select(OrderCount.kind, sa.func.sum(OrderCount.n)).group_by(OrderCount.kind)


def start_metrics_server(app: Flask) -> None:
    """Serve the deployment's metrics on METRICS_ADDRESS (nothing when unset): the HTTP
    metrics of every gunicorn worker (through PROMETHEUS_MULTIPROC_DIR) and the domain ones.

    Called in gunicorn's master with an app of its own, before the workers are forked: the
    listener is a thread of the master, so it stays up while workers come and go."""
    address = app.config["SETTINGS"].metrics_address
    if not address:
        return
    registry = deployment_registry(DomainCollector(app))

    def forget_parent_connections() -> None:
        # A forked worker must never use, nor close, the master's database connections.
        with app.app_context():
            db.engine.dispose(close=False)

    os.register_at_fork(after_in_child=forget_parent_connections)
    host, port = parse_address(address)
    start_http_server(port, addr=host or "0.0.0.0", registry=registry)
    log.info("metrics served apart from the API", extra={"metrics_address": address})


class DomainCollector:
    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        from gophermart.accrual.connections import accrual_gate
        from gophermart.accrual.queueing import queue_depth

        with self.app.app_context():
            orders = GaugeMetricFamily("gophermart_orders", "Handed-in orders by status.", labels=["status"])
            counts: dict[str, int] = {kind: int(n) for kind, n in db.session.execute(ORDER_COUNTS).all()}
            db.session.remove()
            for status in OrderStatus:
                orders.add_metric([status.value], counts.get(status.value, 0))
            yield orders
            yield GaugeMetricFamily(
                "gophermart_orders_parked", "Orders whose checks crashed too often.", value=counts.get(PARKED, 0)
            )

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
