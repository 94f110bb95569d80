"""The ``FRESHFORCE_*`` environment: its prefix, and spotting variables nothing reads.

Kept free of heavy imports so the command line can use it before it knows which command runs.
A variable under the prefix that is neither a setting nor a command-line option's env var is
almost always a typo; :func:`unknown_variables` names it with the closest known name.
``FRESHFORCE_TEST_*`` belongs to the test suite and is never reported.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

__all__ = ["ENV_PREFIX", "unknown_variables"]

ENV_PREFIX = "FRESHFORCE_"
_TEST_PREFIX = f"{ENV_PREFIX}TEST_"


def unknown_variables(environ: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """Return one warning per ``FRESHFORCE_*`` variable in ``environ`` that is not in ``known``."""
    names = set(known)
    # Compared without the prefix every name shares, so the hint is about the part that differs.
    bare = {name.removeprefix(ENV_PREFIX) for name in names}
    warnings = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name.startswith(_TEST_PREFIX) or name in names:
            continue
        close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX), bare, n=1, cutoff=0.75)
        hint = f"did you mean {ENV_PREFIX}{close[0]}?" if close else "no setting or option reads it"
        warnings.append(f"environment variable {name} is ignored ({hint})")
    return warnings
