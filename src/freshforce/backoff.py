"""Full-jitter exponential backoff: the one formula every retry in freshforce draws from."""

from __future__ import annotations

import random

__all__ = ["full_jitter"]

# 2**62 already dwarfs any cap; clamping the exponent keeps the float finite for any count.
_MAX_EXPONENT = 62


def full_jitter(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Return a wait drawn uniformly from ``[0, min(cap, base * 2**(attempt-1))]``.

    ``attempt`` is 1-based (the try that just failed). A zero ceiling returns 0 without drawing,
    so zero-wait test policies leave the random stream untouched.
    """
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, _MAX_EXPONENT))
    return rng.uniform(0.0, ceiling) if ceiling > 0 else 0.0
