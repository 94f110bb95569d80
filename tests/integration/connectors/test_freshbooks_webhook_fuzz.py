"""Fuzzed FreshBooks webhook posts: never a 5xx; what is acknowledged is stored, nothing else.

Bodies and headers come from Hypothesis: arbitrary bytes, forms with odd fields and values,
signed with the known verifier or not, any content type and signature header. A 200 means the
delivery was stored (an event row, a job); any other answer stores nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from freshforce.connectors.freshbooks.signature import SIGNATURE_HEADER
from freshforce.sandbox.freshbooks.webhooks import sign
from freshforce.store.callbacks import save_verifier
from freshforce.store.schema import events

from .conftest import CONNECTION, FbWorld, now
from .live_web import web_app

ACCOUNT = "SBX7QK"
KNOWN = "known-verifier-0123456789abcdef"
VALID = {"name": "client.update", "object_id": "42", "account_id": ACCOUNT, "user_id": "1"}
ODD = VALID | {"object_id": "9" * 30, "extra": "\x00\u2603"}
NUL_ID = VALID | {"object_id": "\x00"}  # once a 500: PostgreSQL text cannot hold a NUL
NUL_NAME = VALID | {"name": "client\x00.update"}
FORM: dict[str, str | bytes] = {"content-type": "application/x-www-form-urlencoded"}
NAMES = ["client.create", "client.update", "invoice.update", "payment.create", "callback.verify"]

text = st.text(max_size=40)
field_value = st.one_of(
    text, st.sampled_from(["42", "-1", "0", "9" * 30, ACCOUNT, "", "\x00", "1e9", " 42 "])
)
forms = st.dictionaries(
    st.one_of(
        st.sampled_from(["name", "object_id", "account_id", "user_id", "verifier", "extra"]), text
    ),
    field_value,
    max_size=6,
)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[bytes, dict[str, str | bytes]]:
    """A body and its headers: a form (signed or not) or raw bytes, odd headers sometimes."""
    if draw(st.booleans()):
        form = {"name": draw(st.sampled_from(NAMES)), "account_id": ACCOUNT} | draw(forms)
        body = urlencode(form).encode()
        signature = sign(KNOWN, form) if draw(st.booleans()) else draw(text)
    else:
        body = draw(st.binary(max_size=300))
        signature = draw(text)
    headers: dict[str, str | bytes] = {
        "content-type": draw(
            st.sampled_from(
                ["application/x-www-form-urlencoded", "application/json", "text/plain", "", "x/y"]
            )
        )
    }
    if draw(st.booleans()):
        headers[SIGNATURE_HEADER] = signature.encode()  # any bytes on the wire
    return body, headers


@pytest.fixture
async def web(fb_world: FbWorld) -> AsyncIterator[httpx.AsyncClient]:
    async with fb_world.engine.begin() as db:
        await save_verifier(db, fb_world.cipher, CONNECTION, "600001", SecretStr(KNOWN), now=now())
    transport = httpx.ASGITransport(app=web_app(fb_world), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://ff.test") as client:
        yield client


async def _stored(world: FbWorld) -> int:
    async with world.engine.connect() as db:
        return int((await db.scalar(sa.select(sa.func.count()).select_from(events))) or 0)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(delivery=deliveries())
@example(delivery=(urlencode(VALID).encode(), {**FORM, SIGNATURE_HEADER: sign(KNOWN, VALID)}))
@example(delivery=(urlencode(ODD).encode(), {**FORM, SIGNATURE_HEADER: sign(KNOWN, ODD)}))
@example(delivery=(urlencode(NUL_ID).encode(), {**FORM, SIGNATURE_HEADER: sign(KNOWN, NUL_ID)}))
@example(delivery=(urlencode(NUL_NAME).encode(), {**FORM, SIGNATURE_HEADER: sign(KNOWN, NUL_NAME)}))
async def test_fuzzed_posts_get_no_5xx_and_every_acknowledged_one_is_stored(
    fb_world: FbWorld, web: httpx.AsyncClient, delivery: tuple[bytes, dict[str, str | bytes]]
) -> None:
    body, headers = delivery
    before = await _stored(fb_world)
    response = await web.post(f"/webhooks/freshbooks/{CONNECTION}", content=body, headers=headers)
    assert response.status_code < 500, (response.status_code, response.text, body, headers)
    after = await _stored(fb_world)
    if body == urlencode(VALID).encode():
        assert response.status_code == 200, response.text  # the plain signed delivery is taken
    if response.status_code == 200 and b"callback.verify" not in body:
        assert after == before + 1, (body, headers)  # acknowledged: stored
    elif response.status_code != 200:
        assert after == before, (response.status_code, body, headers)  # refused: nothing stored


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        (NUL_ID, "object_id must be a FreshBooks id"),
        (VALID | {"object_id": "9" * 30}, "object_id must be a FreshBooks id"),
        (NUL_NAME, "field 'name' holds a NUL character"),
        (VALID | {"object_id": ""}, "signed delivery without an object_id"),
    ],
)
async def test_a_signed_delivery_that_cannot_be_stored_is_refused_saying_why(
    fb_world: FbWorld, web: httpx.AsyncClient, form: dict[str, str], problem: str
) -> None:
    before = await _stored(fb_world)
    headers = {**FORM, SIGNATURE_HEADER: sign(KNOWN, form)}
    response = await web.post(
        f"/webhooks/freshbooks/{CONNECTION}", content=urlencode(form).encode(), headers=headers
    )
    assert response.status_code == 400, response.text
    assert problem in response.json()["detail"]
    assert await _stored(fb_world) == before
