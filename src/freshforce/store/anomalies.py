"""Anomaly baselines and reviews: observed writes per group, held or flagged writes, decisions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from freshforce.store.dbtime import db_now, db_time
from freshforce.store.schema import anomalies, anomaly_observations, links

__all__ = [
    "Anomaly",
    "Observed",
    "count_links",
    "count_recent",
    "decide_anomaly",
    "get_anomaly",
    "latest_anomaly",
    "list_anomalies",
    "observe",
    "observed",
    "record_anomaly",
]

_HISTORY = 200  # observations a baseline looks back over, newest first


@dataclass(frozen=True)
class Observed:
    """One stored observation: which group, which measure, its number or text."""

    grp: str
    name: str
    number: float | None
    text: str | None


@dataclass(frozen=True)
class Anomaly:
    """One held or flagged write."""

    id: int
    tenant: str
    flow: str
    record_key: str
    grp: str
    action: str
    status: str
    reasons: tuple[str, ...]
    write: Mapping[str, Any]  # {"amounts": {name: "12.50"}, "labels": {name: "CAD"}}
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime


def _anomaly(row: sa.Row[Any]) -> Anomaly:
    m = row._mapping  # noqa: SLF001 - SQLAlchemy's public row mapping
    return Anomaly(
        m["id"], m["tenant"], m["flow"], m["record_key"], m["grp"], m["action"], m["status"],
        tuple(m["reasons"]), dict(m["write"]), m["decided_by"], m["decided_at"], m["created_at"],
    )  # fmt: skip


async def observe(
    db: AsyncConnection,
    key: tuple[str, str, str, str],
    numbers: Mapping[str, float],
    texts: Mapping[str, str],
) -> None:
    """Store what ``(tenant, flow, group, record_key)`` was written with, replacing before."""
    tenant, flow, grp, record_key = key
    c = anomaly_observations.c
    names = [*numbers, *texts]
    await db.execute(
        sa.delete(anomaly_observations).where(
            c.tenant == tenant, c.flow == flow, c.record_key == record_key, c.name.in_(names)
        )
    )
    now = db_now(db.dialect.name)
    base = {"tenant": tenant, "flow": flow, "grp": grp, "record_key": record_key, "at": now}
    for name, number in numbers.items():
        await db.execute(sa.insert(anomaly_observations).values(**base, name=name, number=number))
    for name, text in texts.items():
        await db.execute(sa.insert(anomaly_observations).values(**base, name=name, text=text))


async def observed(db: AsyncConnection, tenant: str, flow: str) -> list[Observed]:
    """Return the flow's newest observations, every group."""
    c = anomaly_observations.c
    query = (
        sa.select(c.grp, c.name, c.number, c.text)
        .where(c.tenant == tenant, c.flow == flow)
        .order_by(c.id.desc())
        .limit(_HISTORY * 4)
    )
    return [Observed(r.grp, r.name, r.number, r.text) for r in (await db.execute(query)).all()]


async def record_anomaly(
    db: AsyncConnection,
    key: tuple[str, str, str, str],
    *,
    action: str,
    status: str,
    reasons: Sequence[str],
    write: Mapping[str, Any],
) -> int:
    """Store a held (status ``open``) or flagged write; return its id."""
    tenant, flow, grp, record_key = key
    values = {
        "tenant": tenant, "flow": flow, "grp": grp, "record_key": record_key, "action": action,
        "status": status, "reasons": list(reasons), "write": dict(write),
        "created_at": db_now(db.dialect.name),
    }  # fmt: skip
    result = await db.execute(sa.insert(anomalies).values(**values).returning(anomalies.c.id))
    return int(result.scalar_one())


async def latest_anomaly(
    db: AsyncConnection, tenant: str, flow: str, record_key: str
) -> Anomaly | None:
    """Return the newest held write of a record (flags are not reviews), or ``None``."""
    c = anomalies.c
    query = (
        sa.select(anomalies)
        .where(c.tenant == tenant, c.flow == flow, c.record_key == record_key, c.action == "hold")
        .order_by(c.id.desc())
        .limit(1)
    )
    row = (await db.execute(query)).first()
    return None if row is None else _anomaly(row)


async def get_anomaly(db: AsyncConnection, tenant: str, anomaly_id: int) -> Anomaly | None:
    """Return anomaly ``anomaly_id`` of ``tenant``, or ``None``."""
    query = sa.select(anomalies).where(anomalies.c.tenant == tenant, anomalies.c.id == anomaly_id)
    row = (await db.execute(query)).first()
    return None if row is None else _anomaly(row)


async def list_anomalies(
    db: AsyncConnection, tenant: str, *, status: str | None = None
) -> list[Anomaly]:
    """Return ``tenant``'s anomalies, newest first, of one status when given."""
    query = sa.select(anomalies).where(anomalies.c.tenant == tenant)
    if status is not None:
        query = query.where(anomalies.c.status == status)
    rows = (await db.execute(query.order_by(anomalies.c.id.desc()))).all()
    return [_anomaly(r) for r in rows]


async def decide_anomaly(
    db: AsyncConnection, tenant: str, anomaly_id: int, status: str, *, by: str | None
) -> Anomaly | None:
    """Settle an open held write (``accepted`` or ``rejected``); ``None`` if not open."""
    c = anomalies.c
    changed = await db.execute(
        sa.update(anomalies)
        .where(c.tenant == tenant, c.id == anomaly_id, c.status == "open")
        .values(status=status, decided_by=by, decided_at=db_now(db.dialect.name))
    )
    if changed.rowcount != 1:
        return None
    return await get_anomaly(db, tenant, anomaly_id)


async def count_recent(
    db: AsyncConnection, tenant: str, flow: str, name: str, seconds: float
) -> int:
    """Return how many observations ``name`` the flow stored in the last ``seconds``."""
    c = anomaly_observations.c
    since = db_time(db.dialect.name, -seconds)
    query = sa.select(sa.func.count()).where(
        c.tenant == tenant, c.flow == flow, c.name == name, c.at >= since
    )
    return int((await db.execute(query)).scalar_one())


async def count_links(db: AsyncConnection, tenant: str, flow: str) -> int:
    """Return how many records the flow keeps linked (the size a burst is measured against)."""
    query = sa.select(sa.func.count()).where(links.c.tenant == tenant, links.c.flow == flow)
    return int((await db.execute(query)).scalar_one())
