"""The engine: job queue, worker, links, snapshots, conflicts, echo log, reconciler."""

from freshforce.engine.metrics import QueueMetrics
from freshforce.engine.queue import Clock, Job, JobQueue, JobRequest, JobStatus, QueueConfig
from freshforce.engine.retry import Bury, Decision, Retry, RetryPolicy
from freshforce.engine.worker import Handler, JobResult, Worker, WorkerConfig

__all__ = [
    "Bury",
    "Clock",
    "Decision",
    "Handler",
    "Job",
    "JobQueue",
    "JobRequest",
    "JobResult",
    "JobStatus",
    "QueueConfig",
    "QueueMetrics",
    "Retry",
    "RetryPolicy",
    "Worker",
    "WorkerConfig",
]
