"""The retry policy: a value that turns a failed attempt into a decision, retry later or bury.

Errors are classified by what happens next (shared/STYLE.md §4): a ``TransientError`` is retried
with exponential backoff and full jitter, or after exactly the ``retry_after`` the error carries
(then a floor that later events cannot pull forward); ``PermanentError``, ``ConfigError``,
``AuthError`` and ``ConflictError`` go to the dead letters at once, as does a job out of
attempts or out of time. Any other exception is a bug: it is retried (a race may explain it)
but dead-lettered after ``max_bug_attempts``, traceback kept; a flow that knows better wraps it
in the class it means. The worker acts on the decision; the policy never sleeps and draws
randomness from the ``random.Random`` it is given, so tests pass ``RetryPolicy.zero_wait()``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from freshforce.backoff import full_jitter
from freshforce.errors import FreshforceError, TransientError

__all__ = ["Bury", "Decision", "Retry", "RetryPolicy", "wait_delay"]


@dataclass(frozen=True)
class Retry:
    """Run the job again in ``delay`` seconds; ``floor``: not earlier, whatever arrives."""

    delay: float
    floor: bool = False


@dataclass(frozen=True)
class Bury:
    """Dead-letter the job: ``reason`` says why retrying stopped."""

    reason: str


Decision = Retry | Bury


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped per wait and by the job's total age.

    The n-th retry waits a uniform random time in ``[0, min(max_delay, base_delay * 2**(n-1))]``;
    a ``retry_after`` on the error replaces that draw (capped at ``max_retry_after``). A job gives
    up after its ``max_attempts`` (``max_bug_attempts`` for an unexpected exception) or when the
    next run would fall past ``give_up_after`` seconds from its creation.
    """

    base_delay: float = 1.0
    max_delay: float = 3600.0
    max_retry_after: float = 86_400.0
    give_up_after: float | None = 7 * 86_400.0
    max_bug_attempts: int = 3

    def __post_init__(self) -> None:
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            msg = f"retry policy delays must be >= 0, got {self!r}"
            raise ValueError(msg)
        if self.max_bug_attempts < 1:
            msg = f"max_bug_attempts must be >= 1, got {self.max_bug_attempts}"
            raise ValueError(msg)

    @classmethod
    def zero_wait(cls) -> RetryPolicy:
        """Return a policy that retries at once; for tests and demos."""
        return cls(base_delay=0.0, max_delay=0.0, give_up_after=None)

    def decide(
        self,
        error: BaseException,
        *,
        attempt: int,
        max_attempts: int,
        age: float,
        rng: random.Random,
    ) -> Decision:
        """Return what to do after ``attempt`` (1-based) failed with ``error``."""
        if isinstance(error, FreshforceError) and not isinstance(error, TransientError):
            return Bury(f"{type(error).__name__} is not retryable")
        if not isinstance(error, FreshforceError) and attempt >= self.max_bug_attempts:
            return Bury(f"unexpected {type(error).__name__} (a bug?) on {attempt} attempts")
        if attempt >= max_attempts:
            return Bury(f"gave up after {attempt} attempts")
        if isinstance(error, TransientError) and error.retry_after is not None:
            delay = min(max(error.retry_after, 0.0), self.max_retry_after)
            decision = Retry(delay, floor=True)
        else:
            decision = Retry(full_jitter(attempt, self.base_delay, self.max_delay, rng))
        if self.give_up_after is not None and age + decision.delay > self.give_up_after:
            return Bury(
                f"gave up: next try would be {age + decision.delay:.0f}s after the job was made"
            )
        return decision


def wait_delay(attempt: int, first: float, *, cap: float = 30.0) -> float:
    """Return how long a job that waits for another job waits before its next try.

    Doubling from ``first`` up to ``cap``: a short wait is short, and a job's ten attempts
    outlast the default 30 s lease of a holder that died (0.5 s first: ~2 minutes in all).
    """
    return min(first * 2.0 ** max(attempt - 1, 0), cap)
