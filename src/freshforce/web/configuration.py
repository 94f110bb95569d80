"""The configuration page and its JSON API: the flow maps in force (read-only) and their versions.

The maps are loaded from the settings' ``config_dir`` and profile as ``freshforce run`` loads
them; a map with problems is shown as the list of problems. Versions come from the
``config_versions`` table when it holds rows (their content stays out: only who, when, which
checksum and which one is active).
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from freshforce.mapping import FlowMap, MappingConfigError, load_maps
from freshforce.mapping.model import Chain, FieldRule
from freshforce.store.schema import config_versions
from freshforce.web.auth import Principal, api_user, page_user
from freshforce.web.deps import WebDeps, web_deps
from freshforce.web.pages import render
from freshforce.web.views import plain

__all__ = ["api_router", "configuration_view", "router"]

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api", tags=["api"])
Deps = Annotated[WebDeps, Depends(web_deps)]
# Any: JSON bound for a template or an API answer.
Json = dict[str, Any]
_VERSION_LIMIT = 100


def _chain(chain: Chain) -> Json:
    return {
        "sources": list(chain.sources),
        "targets": list(chain.targets),
        "steps": [step.name for step in chain.steps],
        "expression": chain.expression.text if chain.expression else None,
        "default": chain.default,
    }


def _rule(rule: FieldRule) -> Json:
    return {
        "name": rule.name,
        "line": rule.line,
        "freshbooks": list(rule.freshbooks),
        "salesforce": list(rule.salesforce),
        "direction": rule.direction.value,
        "policy": rule.policy.value,
        "required": rule.required,
        "when": rule.when.text if rule.when else None,
        "chains": {d.value: _chain(c) for d, c in rule.chains.items()},
    }


def _flow(flow: FlowMap) -> Json:
    lines = flow.lines
    return {
        "flow": flow.flow,
        "file": flow.file,
        "content_hash": flow.content_hash,
        "freshbooks_object": flow.freshbooks_object,
        "salesforce_objects": list(flow.salesforce_objects),
        "match": [str(m) for m in flow.match],
        "deletes": {system.value: policy.value for system, policy in flow.deletes.items()},
        "rules": [_rule(rule) for rule in flow.rules],
        "lines": None
        if lines is None
        else {
            "freshbooks": lines.freshbooks,
            "salesforce": lines.salesforce,
            "rules": [_rule(rule) for rule in lines.rules],
        },
        "hooks": [hook.path for hook in flow.hooks],
    }


async def _versions(deps: WebDeps) -> list[Json]:
    c = config_versions.c
    query = (
        sa.select(c.id, c.profile, c.version, c.checksum, c.active, c.created_by, c.created_at)
        .order_by(c.id.desc())
        .limit(_VERSION_LIMIT)
    )
    async with deps.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [{k: plain(v) for k, v in row._asdict().items()} for row in rows]


async def configuration_view(deps: WebDeps) -> Json:
    """Return the flow maps in force (or their problems) and the recorded config versions."""
    settings = deps.settings
    directory = settings.config_dir if settings else None
    # A profile is an enum member or, with named environments, a plain name.
    profile = str(getattr(settings.profile, "value", settings.profile)) if settings else None
    flows: list[Json] = []
    problems: list[str] = []
    try:
        maps = load_maps(directory, profile=profile)
    except MappingConfigError as exc:
        problems = [str(p) for p in exc.problems]
    else:
        flows = [_flow(maps.flows[name]) for name in sorted(maps.flows)]
    return {
        "config_dir": str(directory) if directory else None,
        "profile": profile,
        "flows": flows,
        "problems": problems,
        "versions": await _versions(deps),
    }


@router.get("/configuration")
async def configuration_page(
    request: Request, deps: Deps, principal: Annotated[Principal, Depends(page_user)]
) -> HTMLResponse:
    view = await configuration_view(deps)
    return render(deps, request, "configuration.html", principal, config=view)


@api_router.get("/configuration", summary="The flow maps in force and the config versions")
async def configuration(deps: Deps, _: Annotated[Principal, Depends(api_user)]) -> Json:
    return await configuration_view(deps)
