"""The retry policy: a value that turns a failed attempt into a decision, retry later or bury.

Errors are classified by what happens next (shared/STYLE.md §4): a ``TransientError`` or an
unexpected exception is retried with exponential backoff and full jitter, or after exactly the
``retry_after`` the error carries; ``PermanentError``, ``ConfigError``, ``AuthError`` and
``ConflictError`` go to the dead letters at once, as does a job out of attempts or out of time.
The worker acts on the decision; the policy never sleeps and draws randomness from the
``random.Random`` it is given, so tests pass ``RetryPolicy.zero_wait()`` and a seeded generator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from freshforce.backoff import full_jitter
from freshforce.errors import FreshforceError, TransientError

__all__ = ["Bury", "Decision", "Retry", "RetryPolicy"]


@dataclass(frozen=True)
class Retry:
    """Run the job again in ``delay`` seconds."""

    delay: float


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
    up after its ``max_attempts`` or when the next run would fall past ``give_up_after`` seconds
    from its creation.
    """

    base_delay: float = 1.0
    max_delay: float = 3600.0
    max_retry_after: float = 86_400.0
    give_up_after: float | None = 7 * 86_400.0

    def __post_init__(self) -> None:
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            msg = f"retry policy delays must be >= 0, got {self!r}"
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
        if attempt >= max_attempts:
            return Bury(f"gave up after {attempt} attempts")
        delay = self._delay(error, attempt, rng)
        if self.give_up_after is not None and age + delay > self.give_up_after:
            return Bury(f"gave up: next try would be {age + delay:.0f}s after the job was made")
        return Retry(delay)

    def _delay(self, error: BaseException, attempt: int, rng: random.Random) -> float:
        if isinstance(error, TransientError) and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), self.max_retry_after)
        return full_jitter(attempt, self.base_delay, self.max_delay, rng)
