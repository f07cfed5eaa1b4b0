"""Prometheus metrics of one app instance (its own registry, so tests do not collide)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from service.inference.batch import BatchStats

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_SLICE_BUCKETS = (1, 8, 16, 32, 64, 96, 128, 192, 256, 384, 512, 1024)
_EXAM_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "mrnet_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "mrnet_request_duration_seconds",
            "HTTP request duration by route",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_seconds = Histogram(
            "mrnet_queue_duration_seconds",
            "Time an exam waited for the inference worker",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.compute_seconds = Histogram(
            "mrnet_compute_duration_seconds",
            "Compute time of one packed batch",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_slices = Histogram(
            "mrnet_batch_slices", "Slices in one packed batch", buckets=_SLICE_BUCKETS, registry=r
        )
        self.batch_exams = Histogram(
            "mrnet_batch_exams",
            "Exams (volumes per plane) in one batch",
            buckets=_EXAM_BUCKETS,
            registry=r,
        )
        self.pending = Gauge(
            "mrnet_pending_requests", "Predictions admitted and not answered", registry=r
        )
        self.queued_slices = Gauge("mrnet_queued_slices", "Slices waiting in the queue", registry=r)
        self.waiting_exams = Gauge(
            "mrnet_waiting_exams", "Predictions waiting for queue room (not yet read)", registry=r
        )
        self.loop_cpu_seconds = Gauge(
            "mrnet_event_loop_cpu_seconds",
            "CPU time of the event loop's thread (HTTP, routing, refusals; not inference)",
            registry=r,
        )
        ProcessCollector(registry=r)  # process_cpu_seconds_total, resident memory, open fds
        self.model_info = Gauge(
            "mrnet_model_info",
            "Served model packages (value 1)",
            ["task", "version", "device", "precision", "sha256"],
            registry=r,
        )
        self.ready = Gauge(
            "mrnet_ready", "1 when every served model is loaded and warm", registry=r
        )

    def observe_batch(self, stats: BatchStats, seconds: float) -> None:
        self.compute_seconds.observe(seconds)
        self.batch_slices.observe(stats.total_slices)
        self.batch_exams.observe(stats.exams)

    def render(self) -> bytes:
        return generate_latest(self.registry)
