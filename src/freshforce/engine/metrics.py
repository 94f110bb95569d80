"""Prometheus metrics of the job queue, registered on a ``CollectorRegistry`` passed in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["QueueMetrics"]

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class QueueMetrics:
    """Counters and histograms for jobs; one instance per registry, built where the app is built."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.claimed = Counter(
            "freshforce_jobs_claimed",
            "Jobs leased by a worker.",
            ["flow"],
            registry=registry,
        )
        self.finished = Counter(
            "freshforce_jobs_finished",
            "Job attempts ended, by outcome (done, skipped, retry, dead, lost_lease).",
            ["flow", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "freshforce_job_duration_seconds",
            "Time from a job's start to its ack, retry or burial.",
            ["flow", "outcome"],
            buckets=_DURATION_BUCKETS,
            registry=registry,
        )
        self.lag = Histogram(
            "freshforce_job_lag_seconds",
            "Time from a job being due to a worker claiming it.",
            ["flow"],
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "freshforce_jobs_in_flight",
            "Jobs this process holds a lease on.",
            registry=registry,
        )

    def job_claimed(self, flow: str, lag_seconds: float) -> None:
        self.claimed.labels(flow=flow).inc()
        self.lag.labels(flow=flow).observe(max(lag_seconds, 0.0))

    def job_finished(self, flow: str, outcome: str, seconds: float) -> None:
        self.finished.labels(flow=flow, outcome=outcome).inc()
        self.duration.labels(flow=flow, outcome=outcome).observe(max(seconds, 0.0))
