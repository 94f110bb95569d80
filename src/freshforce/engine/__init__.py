"""The engine: job queue, worker, links, snapshots, conflicts, echo log, reconciler."""
