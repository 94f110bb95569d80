"""The running service: what ``freshforce run`` and ``freshforce listen`` put in one process.

:class:`Service` serves the web app (dashboard and FreshBooks webhook route), runs each tenant's
intake (pollers and CDC subscribers, read from the loaded maps) on a :class:`Scheduler`, the
periodic tasks (``reconcile_tasks``) and, for ``run``, the worker; it drains all of them on stop.
"""

from freshforce.service.periodic import Periodic, reconcile_tasks
from freshforce.service.scheduler import Scheduler, TaskFn
from freshforce.service.serve import Service
from freshforce.service.targets import IntakeTargets, cdc_topic, intake_targets

__all__ = [
    "IntakeTargets",
    "Periodic",
    "Scheduler",
    "Service",
    "TaskFn",
    "cdc_topic",
    "intake_targets",
    "reconcile_tasks",
]
