"""Ambiguous matches in the review queue: list them, and settle one by a person's choice.

The clients flow parks a record that several far-side records match as a dead letter of class
``AmbiguousMatchError`` listing the candidates (never a guess). Settling one adds the answer to
the letter's job as a ``{"match": ...}`` hint and replays it: the flow then links the chosen
candidate and syncs the pair, or creates the record on the far side (``new``), refusing a
candidate that was linked elsewhere or deleted meanwhile. An audit row records who chose what.
"""

from __future__ import annotations

from typing import Any

from freshforce.flows.clients_plan import CREATE_NEW, MATCH_HINT, ambiguous_candidates
from freshforce.store.audit import record_audit
from freshforce.store.connections import list_connections
from freshforce.store.dead_letters import DeadLetter
from freshforce.store.overview import search_dead_letters
from freshforce.web.actions import GoneError, NotFoundError
from freshforce.web.deps import WebDeps
from freshforce.web.timeline import freshbooks_url, salesforce_url
from freshforce.web.views import plain

__all__ = ["AMBIGUOUS", "CREATE_NEW", "match_view", "matches_view", "settle_match"]

AMBIGUOUS = "AmbiguousMatchError"
# Any: JSON bound for a template or an API answer.
Json = dict[str, Any]


async def _instance_url(deps: WebDeps) -> str | None:
    async with deps.engine.connect() as conn:
        infos = await list_connections(conn)
    return next((c.instance_url for c in infos if c.system == "salesforce"), None)


def _json(letter: DeadLetter, instance_url: str | None) -> Json:
    system, record_id = letter.key.split("/", 1)[0], letter.key.rsplit("/", 1)[-1]
    # A FreshBooks record has Salesforce candidates, and the other way round.
    far = "salesforce" if system == "freshbooks" else "freshbooks"
    candidates = [
        {
            "id": c,
            "url": salesforce_url(instance_url, c)
            if far == "salesforce"
            else freshbooks_url(letter.flow, c),
        }
        for c in ambiguous_candidates(letter.error_message or "")
    ]
    return {
        "letter_id": letter.id,
        "tenant": letter.tenant,
        "flow": letter.flow,
        "key": letter.key,
        "system": system,
        "record_id": record_id,
        "candidates_in": far,
        "candidates": candidates,
        "message": letter.error_message,
        "created_at": plain(letter.created_at),
    }


async def matches_view(deps: WebDeps, *, flow: str | None = None, limit: int = 100) -> list[Json]:
    """Return the ambiguous matches waiting for a person, newest first."""
    async with deps.engine.connect() as conn:
        letters = await search_dead_letters(conn, flow=flow, error_class=AMBIGUOUS, limit=limit)
    instance = await _instance_url(deps)
    return [_json(letter, instance) for letter in letters]


async def _open_match(deps: WebDeps, letter_id: int) -> DeadLetter:
    letter = await deps.queue.dead_letter(letter_id)
    if letter is None or letter.error_class != AMBIGUOUS:
        raise NotFoundError(f"no ambiguous match {letter_id}")
    if letter.replayed_at is not None:
        raise GoneError(f"ambiguous match {letter_id} was settled already")
    return letter


async def match_view(deps: WebDeps, letter_id: int) -> Json:
    """Return one waiting ambiguous match; :class:`NotFoundError` or :class:`GoneError`."""
    letter = await _open_match(deps, letter_id)
    return _json(letter, await _instance_url(deps))


async def settle_match(deps: WebDeps, actor: str, letter_id: int, choice: str) -> Json:
    """Link candidate ``choice`` (or create new with ``new``), re-sync, audit; return the job.

    ``ValueError`` names a choice that is not one of the letter's candidates.
    """
    letter = await _open_match(deps, letter_id)
    candidates = ambiguous_candidates(letter.error_message or "")
    choice = choice.strip()
    if choice != CREATE_NEW and choice not in candidates:
        listed = ", ".join([*candidates, CREATE_NEW])
        msg = f"choice: {choice!r} is not one of {listed}"
        raise ValueError(msg)
    hints = [
        h for h in letter.payload.get("hints", []) if not (isinstance(h, dict) and MATCH_HINT in h)
    ]
    payload = {"hints": [*hints, {MATCH_HINT: choice, "by": actor}]}
    if not await deps.queue.edit_dead_letter(letter_id, payload):
        raise GoneError(f"ambiguous match {letter_id} was settled already")
    job_id = await deps.queue.replay(letter_id)
    if job_id is None:
        raise GoneError(f"ambiguous match {letter_id} was settled already")
    async with deps.engine.begin() as conn:
        await record_audit(
            conn,
            actor=actor,
            action="match.resolve",
            target=f"dead_letter:{letter_id}",
            now=deps.clock(),
            detail={
                "tenant": letter.tenant,
                "flow": letter.flow,
                "key": letter.key,
                "choice": choice,
                "candidates": candidates,
                "job_id": job_id,
            },
        )
    return {"letter_id": letter_id, "choice": choice, "job_id": job_id}
