import random

from hypothesis import given
from hypothesis import strategies as st

from freshforce.backoff import full_jitter


@given(
    attempt=st.integers(min_value=1, max_value=10_000),
    base=st.floats(min_value=0.0, max_value=100.0),
    cap=st.floats(min_value=0.0, max_value=3600.0),
    seed=st.integers(),
)
def test_wait_stays_within_the_capped_exponential_ceiling(attempt, base, cap, seed) -> None:
    wait = full_jitter(attempt, base, cap, random.Random(seed))
    assert 0.0 <= wait <= min(cap, base * 2.0 ** min(attempt - 1, 62))


def test_ceiling_doubles_per_attempt_and_zero_draws_nothing() -> None:
    rng = random.Random(7)
    waits = [full_jitter(n, 1.0, 1e9, rng) for n in range(1, 2000)]
    assert max(waits[:1]) <= 1.0
    assert any(w > 2.0 for w in waits[10:])
    untouched = random.Random(3)
    assert full_jitter(5, 0.0, 30.0, untouched) == 0.0
    assert untouched.random() == random.Random(3).random()
