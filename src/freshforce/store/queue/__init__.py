"""The SQL of the job queue's jobs table, the same semantics on both backends.

Every transition of a running job (heartbeat, ack, retry, bury, release) is a compare-and-set
fenced by the attempt that holds it: ``WHERE id = :id AND attempts = :n AND locked_by = :me AND
status = 'running'``; callers check what came back. Lease expiry and due times are the
database's clock (store/dbtime.py), never a worker's. A job's identity includes its tenant. The
dialect differences sit here: ``FOR UPDATE SKIP LOCKED``, savepoints and ``NOTIFY`` on
PostgreSQL; on SQLite every transaction is ``BEGIN IMMEDIATE`` (store/engine.py), so writers are
serialised by the write lock and cannot race.

The parts: ``model`` (values and shared SQL pieces), ``enqueue`` (insert or coalesce),
``claim`` (leases, fairness, lease takeover), ``transitions`` (heartbeat, ack, requeue, bury,
retry now), ``listing`` (reads and pruning). Dead letters are ``store/dead_letters.py``.
"""

from freshforce.store.queue.claim import FAIR_WINDOW, claim, claim_unless_expired, reclaim_expired
from freshforce.store.queue.enqueue import enqueue
from freshforce.store.queue.listing import count_by_status, list_jobs, prune_done
from freshforce.store.queue.model import (
    MAX_HINTS,
    NOTIFY_CHANNEL,
    Hint,
    Job,
    JobRequest,
    JobStatus,
    merge_hints,
    row_jobs,
    status_is,
)
from freshforce.store.queue.transitions import (
    ack,
    ack_clean,
    bury,
    heartbeat,
    lock_held,
    requeue,
    retry_now,
    wake_flow,
)

__all__ = [
    "FAIR_WINDOW",
    "MAX_HINTS",
    "NOTIFY_CHANNEL",
    "Hint",
    "Job",
    "JobRequest",
    "JobStatus",
    "ack",
    "ack_clean",
    "bury",
    "claim",
    "claim_unless_expired",
    "count_by_status",
    "enqueue",
    "heartbeat",
    "list_jobs",
    "lock_held",
    "merge_hints",
    "prune_done",
    "reclaim_expired",
    "requeue",
    "retry_now",
    "row_jobs",
    "status_is",
    "wake_flow",
]
