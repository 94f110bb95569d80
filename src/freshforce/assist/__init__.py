"""Mapping suggestions and write anomalies: offline, explained, taught by the decisions.

``suggest`` ranks Salesforce fields for a flow's unmapped FreshBooks fields (``scoring`` is the
layered scorer, ``labelled`` its measure); ``accept``/``reject`` settle suggestions.
``BaselineGuard`` holds or flags odd writes on learned baselines; ``settle`` reviews them;
``UpdateBreaker`` pauses a flow whose writes burst.
Heavy imports (the store, connectors) load with the submodules, not with this package.
"""

from __future__ import annotations

__all__ = [
    "accept",
    "baseline",
    "breaker",
    "guard",
    "labelled",
    "review",
    "scoring",
    "semantic",
    "suggest",
]
