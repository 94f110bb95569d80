"""The engine: job queue, worker, the unit of work's contract, retry decisions, metrics."""

from freshforce.engine.flow import Effect, Flow, FlowContext, JobFlow, JobHandler, Outcome, Result
from freshforce.engine.gate import OPEN, FlowGate
from freshforce.engine.metrics import QueueMetrics
from freshforce.engine.queue import Clock, Job, JobQueue, JobRequest, JobStatus, QueueConfig
from freshforce.engine.retry import Bury, Decision, Retry, RetryPolicy
from freshforce.engine.worker import Worker, WorkerConfig

__all__ = [
    "OPEN",
    "Bury",
    "Clock",
    "Decision",
    "Effect",
    "Flow",
    "FlowContext",
    "FlowGate",
    "Job",
    "JobFlow",
    "JobHandler",
    "JobQueue",
    "JobRequest",
    "JobStatus",
    "Outcome",
    "QueueConfig",
    "QueueMetrics",
    "Result",
    "Retry",
    "RetryPolicy",
    "Worker",
    "WorkerConfig",
]
