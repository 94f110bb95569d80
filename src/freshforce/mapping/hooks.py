"""Hooks: ``module:function`` business logic that may amend, skip or fail one planned change."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from freshforce.mapping.problems import did_you_mean
from freshforce.mapping.schema import Direction

__all__ = [
    "Amend",
    "Fail",
    "Hook",
    "HookContext",
    "HookDecision",
    "HookResult",
    "Skip",
    "resolve_hook",
    "run_hooks",
]


@dataclass(frozen=True, slots=True)
class HookContext:
    """What a hook sees: both sides' records, the link and the change planned for the target."""

    flow: str
    direction: Direction
    record_key: str | None
    source: Mapping[str, Any]  # Any: raw records of a side
    target: Mapping[str, Any] | None
    link: Mapping[str, Any] | None
    change: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Amend:
    """Change the planned write: set ``values``, remove the fields in ``drop``."""

    values: Mapping[str, Any] = field(default_factory=dict)
    drop: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class Skip:
    """Do not write this record now; the reason is recorded."""

    reason: str


@dataclass(frozen=True, slots=True)
class Fail:
    """Fail this record permanently (dead letter) with a message."""

    message: str


HookResult = Amend | Skip | Fail | None
HookFunction = Callable[[HookContext], HookResult]


@dataclass(frozen=True)
class Hook:
    """A resolved hook and where the map names it."""

    path: str
    function: HookFunction = field(repr=False, compare=False)
    line: int = 0


@dataclass(frozen=True, slots=True)
class HookDecision:
    """What a flow's hooks decided: write ``change``, or skip/fail, the reason naming the hook."""

    action: Literal["write", "skip", "fail"]
    change: Mapping[str, Any]
    reason: str | None = None
    hook: str | None = None


def resolve_hook(path: str) -> HookFunction | str:
    """Import ``module:function``; return the callable, or a message saying what is wrong."""
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        return f"hook {path!r} must be written module:function"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        return f"hook {path!r}: module {exc.name or module_name!r} not found"
    except Exception as exc:  # noqa: BLE001  # importing user code may raise anything
        return f"hook {path!r}: importing {module_name} raised {type(exc).__name__}: {exc}"
    function = getattr(module, attribute, None)
    if function is None:
        public = [name for name in vars(module) if not name.startswith("_")]
        return f"hook {path!r}: {module_name} has no {attribute!r}{did_you_mean(attribute, public)}"
    if not callable(function):
        return f"hook {path!r} is not callable"
    return function  # type: ignore[no-any-return]  # checked callable; its signature is the user's


def run_hooks(hooks: Sequence[Hook], context: HookContext) -> HookDecision:
    """Run ``hooks`` in order on ``context``; the first skip or fail stops the rest.

    A hook that raises fails this record only, and the reason names the hook.
    """
    change = dict(context.change)
    for hook in hooks:
        current = HookContext(**{**_fields(context), "change": dict(change)})
        try:
            result = hook.function(current)
        except Exception as exc:  # noqa: BLE001  # a hook's bug fails its record, not the batch
            reason = f"hook {hook.path} raised {type(exc).__name__}: {exc}"
            return HookDecision("fail", change, reason, hook.path)
        if result is None:
            continue
        if isinstance(result, Amend):
            change.update(result.values)
            for name in result.drop:
                change.pop(name, None)
        elif isinstance(result, Skip):
            return HookDecision("skip", change, result.reason, hook.path)
        elif isinstance(result, Fail):
            return HookDecision("fail", change, result.message, hook.path)
        else:
            reason = f"hook {hook.path} returned {result!r}; expected None, Amend, Skip or Fail"
            return HookDecision("fail", change, reason, hook.path)
    return HookDecision("write", change)


def _fields(context: HookContext) -> dict[str, Any]:
    # Any: the context's own field values.
    return {name: getattr(context, name) for name in HookContext.__slots__}
