"""Prometheus metrics at /metrics.

HTTP requests are recorded by endpoint, method and status, with a latency histogram
(`RequestMetrics`). Under `gophermart web` (gunicorn, several processes) they are aggregated
across processes through PROMETHEUS_MULTIPROC_DIR; with a plain single-process server they
are that process's own. The domain metrics — orders by status, accrual calls by outcome,
the current pause and pace, queue depth — are read from the shared stores (database,
Redis) at scrape time, so every web process reports the whole deployment. A scrape reads a
few rows whatever the data's size: orders are counted by triggers as they change
(order_counts), never by scanning the orders table.

With METRICS_ADDRESS set, the API answers 404 for /metrics and gunicorn's master serves
the metrics on that address instead (start_metrics_server), off the public port.
"""

from __future__ import annotations

import logging
import os
import time

import sqlalchemy as sa
from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

from config.settings import parse_address
from gophermart.extensions import db
from gophermart.models import PARKED, OrderCount, OrderStatus

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # set by gophermart.runtime.web_server before this import
# Any other method a client sends is counted as "other": label values must stay few.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def multiprocess() -> bool:
    return os.path.isdir(os.environ.get(MULTIPROC_ENV, ""))


class RequestMetrics:
    """Every request's duration by endpoint, method and status, and counts by method and
    status (the names, labels and buckets prometheus-flask-exporter gave them, which the
    service used before). The labelled series are looked up once per label values, not on
    every request (their cost: bench/FINDINGS.md)."""

    def __init__(self, registry: CollectorRegistry | None):
        self.duration = Histogram(
            "gophermart_http_request_duration_seconds",
            "Flask HTTP request duration in seconds",
            ("method", "endpoint", "status"),
            registry=registry,
        )
        self.total = Counter(
            "gophermart_http_request_total", "Total number of HTTP requests", ("method", "status"), registry=registry
        )
        self.exceptions = Counter(
            "gophermart_http_request_exceptions_total",
            "Total number of HTTP requests which resulted in an exception",
            ("method", "status"),
            registry=registry,
        )
        self._series: dict[tuple, tuple] = {}

    def record(self, method: str, endpoint: str | None, status: int, seconds: float) -> None:
        key = (method if method in _METHODS else "other", str(endpoint), str(status))
        series = self._series.get(key)
        if series is None:
            series = self._series.setdefault(key, (self.duration.labels(*key), self.total.labels(key[0], key[2])))
        series[0].observe(seconds)
        series[1].inc()

    def record_exception(self, method: str) -> None:
        self.exceptions.labels(method if method in _METHODS else "other", "500").inc()


def register_metrics(app: Flask) -> None:
    domain = DomainCollector(app)
    if multiprocess():
        # The values live in the workers' files; a scrape reads them all (deployment_registry).
        recorded = RequestMetrics(registry=None)
        registry = None
    else:
        registry = CollectorRegistry()
        recorded = RequestMetrics(registry)
        registry.register(domain)

    @app.before_request
    def start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def record_request(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is not None and request.endpoint != "metrics":
            recorded.record(request.method, request.endpoint, response.status_code, time.perf_counter() - started)
        return response

    @app.teardown_request
    def record_exception(error: BaseException | None) -> None:
        if error is not None:
            recorded.record_exception(request.method)

    if app.config["SETTINGS"].metrics_address:
        return  # served apart (start_metrics_server): the API records requests but has no /metrics

    def metrics() -> Response:
        everything = registry if registry is not None else deployment_registry(domain)
        names = request.args.getlist("name[]")
        exposed = everything.restricted_registry(names) if names else everything
        generate_latest, content_type = choose_encoder(request.headers.get("Accept", ""))
        return Response(generate_latest(exposed), content_type=content_type)

    app.add_url_rule("/metrics", "metrics", metrics)


def deployment_registry(domain: DomainCollector) -> CollectorRegistry:
    """The whole deployment's metrics: every gunicorn worker's HTTP metrics (shared through
    the metrics folder, when there is one) and the domain ones."""
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    if multiprocess():
        MultiProcessCollector(registry)
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
