"""Prometheus metrics at /metrics.

HTTP requests by endpoint and status with latency histograms: prometheus-flask-exporter's
metrics, recorded by `export_request_metrics`. Under `gophermart web` (gunicorn, several
processes) they are aggregated across processes through PROMETHEUS_MULTIPROC_DIR; with a
plain single-process server they are that process's own. The domain metrics — orders by status, accrual calls
by outcome, the current pause and pace, queue depth — are read from the shared stores
(database, Redis) at scrape time, so every web process reports the whole deployment.
"""

from __future__ import annotations

import logging
import os
from time import perf_counter

import sqlalchemy as sa
from flask import Flask, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_flask_exporter import PrometheusMetrics

from gophermart.extensions import db

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # set by gophermart.web_server before this import


def register_metrics(app: Flask) -> None:
    if os.path.isdir(os.environ.get(MULTIPROC_ENV, "")):
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        metrics = GunicornInternalPrometheusMetrics(app, export_defaults=False)
    else:
        metrics = PrometheusMetrics(app, registry=CollectorRegistry(), export_defaults=False)
    export_request_metrics(app, metrics, prefix="gophermart")
    metrics.registry.register(DomainCollector(app))


def export_request_metrics(app: Flask, metrics: PrometheusMetrics, prefix: str) -> None:
    """The request metrics of prometheus-flask-exporter's `export_defaults` grouped by
    endpoint: the same names, labels, buckets and rules (the metrics endpoint itself and
    views marked `do_not_track` are left out; an exception that escapes every handler
    counts as a 500). Recorded here because the exporter looks each sample's labelled
    series up by its label values on every request; these are kept per endpoint, method
    and status, so a request costs two samples and a dictionary look-up."""
    metrics.info(f"{prefix}_exporter_info", "Information about the Prometheus Flask exporter",
                 version=metrics.version)
    duration = Histogram(f"{prefix}_http_request_duration_seconds", "Flask HTTP request duration in seconds",
                         ("method", "endpoint", "status"), registry=metrics.registry)
    total = Counter(f"{prefix}_http_request_total", "Total number of HTTP requests", ("method", "status"),
                    registry=metrics.registry)
    exceptions = Counter(f"{prefix}_http_request_exceptions_total",
                         "Total number of HTTP requests which resulted in an exception", ("method", "status"),
                         registry=metrics.registry)
    series: dict[tuple, tuple] = {}

    # The exporter's flags on the request (`do_not_track`, `exclude_all_metrics`) and ours,
    # looked up in the request object's own attributes: one proxy look-up per hook.
    def tracked(flags: dict) -> bool:
        return "prom_do_not_track" not in flags and "prom_exclude_all" not in flags

    def record(req, status: int) -> None:
        flags = vars(req)
        if "prom_reported" in flags:  # once per request, whichever hook comes first
            return
        flags["prom_reported"] = True
        key = (req.method, req.endpoint, status)
        pair = series.get(key)
        if pair is None:
            pair = series[key] = (duration.labels(*key), total.labels(key[0], status))
        started = flags.get("prom_start_time")
        if started is not None:
            pair[0].observe(max(perf_counter() - started, 0))
        pair[1].inc()

    @app.before_request
    def start_request_timer() -> None:
        request.prom_start_time = perf_counter()

    @app.after_request
    def record_request(response):
        req = request._get_current_object()
        if tracked(vars(req)):
            record(req, response.status_code)
        return response

    @app.teardown_request
    def record_exception(exception=None) -> None:
        if exception is not None:
            req = request._get_current_object()
            if tracked(vars(req)):
                exceptions.labels(req.method, 500).inc()
                record(req, 500)


class DomainCollector:
    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        from gophermart.connections import accrual_gate, queue_depth

        with self.app.app_context():
            orders = GaugeMetricFamily("gophermart_orders", "Handed-in orders by status.", labels=["status"])
            counts = dict(db.session.execute(sa.text("SELECT status, count(*) FROM orders GROUP BY status")).all())
            parked = db.session.execute(sa.text("SELECT count(*) FROM orders WHERE parked_at IS NOT NULL")).scalar()
            db.session.remove()
            for status in ("NEW", "PROCESSING", "INVALID", "PROCESSED"):
                orders.add_metric([status], counts.get(status, 0))
            yield orders
            yield GaugeMetricFamily("gophermart_orders_parked", "Orders whose checks crashed too often.", value=parked)

            gate = accrual_gate()
            calls = CounterMetricFamily("gophermart_accrual_calls", "Accrual system requests by outcome.", labels=["outcome"])
            for outcome, count in sorted(gate.call_counts().items()):
                calls.add_metric([outcome], count)
            yield calls
            state = gate.state()
            yield GaugeMetricFamily("gophermart_accrual_pause_seconds", "Seconds left in the shared 429 pause.", value=state.paused_for)
            yield GaugeMetricFamily("gophermart_accrual_pace_per_second", "Shared request pace (0 = unlimited).", value=state.rate)
            yield GaugeMetricFamily("gophermart_accrual_calc_estimate_seconds", "Learned calculation time.", value=state.calc_estimate)
            depth = queue_depth()
            if depth is not None:
                yield GaugeMetricFamily("gophermart_queue_depth", "Messages waiting in the accrual queue.", value=depth)
