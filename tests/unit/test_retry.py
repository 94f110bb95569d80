import random

import pytest

from freshforce.engine.queue import QueueConfig
from freshforce.engine.retry import Bury, Retry, RetryPolicy, wait_delay
from freshforce.errors import (
    AmbiguousWriteError,
    AuthError,
    ConfigError,
    ConflictError,
    PermanentError,
    TransientError,
)


def decide(policy, error, attempt=1, max_attempts=5, *, age=0.0, seed=1):
    return policy.decide(
        error, attempt=attempt, max_attempts=max_attempts, age=age, rng=random.Random(seed)
    )


@pytest.mark.parametrize("error_class", [PermanentError, ConfigError, AuthError, ConflictError])
def test_fatal_errors_are_buried_at_once(error_class) -> None:
    decision = decide(RetryPolicy(), error_class("no"))
    assert isinstance(decision, Bury)
    assert error_class.__name__ in decision.reason


@pytest.mark.parametrize("error", [TransientError("later"), RuntimeError("bug"), OSError("net")])
def test_transient_and_unexpected_errors_are_retried(error) -> None:
    assert isinstance(decide(RetryPolicy(), error), Retry)


def test_unexpected_errors_are_bugs_buried_after_max_bug_attempts() -> None:
    policy = RetryPolicy(max_bug_attempts=3)
    assert isinstance(decide(policy, KeyError("x"), attempt=2, max_attempts=10), Retry)
    decision = decide(policy, KeyError("x"), attempt=3, max_attempts=10)
    assert decision == Bury("unexpected KeyError (a bug?) on 3 attempts")
    assert isinstance(decide(policy, TransientError("x"), attempt=3, max_attempts=10), Retry)
    with pytest.raises(ValueError, match="max_bug_attempts"):
        RetryPolicy(max_bug_attempts=0)


def test_full_jitter_stays_under_the_exponential_ceiling() -> None:
    policy = RetryPolicy(base_delay=2.0, max_delay=100.0, give_up_after=None)
    for attempt, ceiling in [(1, 2.0), (2, 4.0), (3, 8.0), (6, 64.0), (7, 100.0), (40, 100.0)]:
        delays = [
            decide(policy, TransientError("x"), attempt, 99, seed=seed).delay for seed in range(200)
        ]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.9  # jitter spans the range
        assert min(delays) < ceiling * 0.1


def test_jitter_is_deterministic_for_a_seed() -> None:
    policy = RetryPolicy()
    a = decide(policy, TransientError("x"), 4, seed=7)
    b = decide(policy, TransientError("x"), 4, seed=7)
    assert a == b


def test_retry_after_replaces_the_draw_and_is_capped() -> None:
    policy = RetryPolicy(max_retry_after=600.0)
    assert decide(policy, TransientError("429", retry_after=42.0)) == Retry(42.0, floor=True)
    assert decide(policy, AmbiguousWriteError("t", retry_after=3.5)) == Retry(3.5, floor=True)
    assert decide(policy, TransientError("429", retry_after=10_000.0)) == Retry(600.0, floor=True)


def test_out_of_attempts_is_buried() -> None:
    decision = decide(RetryPolicy(), TransientError("x"), attempt=5, max_attempts=5)
    assert decision == Bury("gave up after 5 attempts")


def test_out_of_time_is_buried() -> None:
    policy = RetryPolicy(give_up_after=60.0)
    decision = decide(policy, TransientError("x", retry_after=30.0), age=45.0)
    assert isinstance(decision, Bury)
    assert "gave up" in decision.reason
    assert decide(policy, TransientError("x", retry_after=10.0), age=45.0) == Retry(
        10.0, floor=True
    )


def test_zero_wait_policy_retries_immediately() -> None:
    assert decide(RetryPolicy.zero_wait(), TransientError("x"), attempt=3) == Retry(0.0)


def test_negative_delays_are_refused() -> None:
    with pytest.raises(ValueError, match="delays must be >= 0"):
        RetryPolicy(base_delay=-1.0)


def test_a_wait_doubles_up_to_its_cap_and_outlasts_a_dead_holders_lease() -> None:
    delays = [wait_delay(attempt, 0.5) for attempt in range(1, 11)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(delays) == 30.0
    assert sum(delays[:9]) > QueueConfig().lease_seconds * 2  # nine waits before the tenth try
    assert wait_delay(0, 2.0) == 2.0
