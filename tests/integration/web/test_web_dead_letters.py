"""Dead letters over HTTP: list with filters, inspect, edit, replay one or many, discard."""

from __future__ import annotations

import pytest
from web_support import bury_one, csrf, login

from freshforce.engine.queue import JobStatus


@pytest.fixture
async def operator(app_client):
    await login(app_client, "olga")
    return {"X-CSRF-Token": await csrf(app_client)}


async def test_list_filters_and_inspect(app_client, queue, operator):
    first = await bury_one(queue, "invoices", "fb:inv:1")
    second = await bury_one(queue, "clients", "fb:client:7")
    everything = (await app_client.get("/api/dead-letters")).json()
    assert [d["id"] for d in everything] == [second, first]
    only = (await app_client.get("/api/dead-letters", params={"flow": "clients"})).json()
    assert [d["id"] for d in only] == [second]
    by_key = (await app_client.get("/api/dead-letters", params={"key": "inv:"})).json()
    assert [d["id"] for d in by_key] == [first]
    none = (await app_client.get("/api/dead-letters", params={"error_class": "Nope"})).json()
    assert none == []
    one = (await app_client.get(f"/api/dead-letters/{first}")).json()
    assert one["flow"] == "invoices"
    assert one["payload"] == {"hints": ["h1"]}
    assert one["error_class"] == "PermanentError"
    page = await app_client.get("/dead-letters", params={"flow": "clients"})
    assert "fb:client:7" in page.text
    assert "fb:inv:1" not in page.text
    detail = await app_client.get(f"/dead-letters/{first}")
    assert detail.status_code == 200
    assert "Amount: not a number" in detail.text
    assert "Replay" in detail.text


async def test_empty_states_say_what_will_appear(app_client, operator):
    page = await app_client.get("/dead-letters")
    assert "No dead letters" in page.text
    assert "lands here" in page.text


async def test_unknown_ids_are_404(app_client, operator):
    assert (await app_client.get("/api/dead-letters/999")).status_code == 404
    assert (await app_client.get("/dead-letters/999")).status_code == 404
    assert (await app_client.get("/api/jobs/999/attempts")).status_code == 404
    for method, path, body in [
        ("POST", "/api/dead-letters/999/replay", None),
        ("PUT", "/api/dead-letters/999/payload", {"payload": {"hints": []}}),
        ("POST", "/api/dead-letters/999/discard", {"reason": "gone"}),
    ]:
        answer = await app_client.request(method, path, json=body, headers=operator)
        assert answer.status_code == 404, path
        assert "no dead letter 999" in answer.json()["detail"]
    token = operator["X-CSRF-Token"]
    form = await app_client.post("/dead-letters/999/replay", data={"csrf_token": token})
    assert form.status_code == 404


async def test_edit_then_replay_through_the_api(app_client, queue, operator):
    letter = await bury_one(queue)
    new = {"hints": ["h1", {"field": "Amount"}]}
    edited = await app_client.put(
        f"/api/dead-letters/{letter}/payload", json={"payload": new}, headers=operator
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["payload"] == new
    replayed = await app_client.post(f"/api/dead-letters/{letter}/replay", headers=operator)
    assert replayed.status_code == 200
    job_id = replayed.json()["job_id"]
    [job] = await queue.jobs(status=JobStatus.PENDING)
    assert job.id == job_id
    assert list(job.hints) == new["hints"]
    again = await app_client.post(f"/api/dead-letters/{letter}/replay", headers=operator)
    assert again.status_code == 409
    late_edit = await app_client.put(
        f"/api/dead-letters/{letter}/payload", json={"payload": new}, headers=operator
    )
    assert late_edit.status_code == 409
    audit = (await app_client.get("/api/audit")).json()
    assert [(a["actor"], a["action"]) for a in audit] == [
        ("olga", "dead_letter.replay"),
        ("olga", "dead_letter.edit"),
    ]
    assert audit[0]["target"] == f"dead_letter:{letter}"
    assert audit[0]["detail"] == {"job_id": job_id}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"payload": {"hints": "x"}}, "payload.hints: expected a list"),
        ({"payload": {"hints": [1]}}, "payload.hints[0]: expected a string or an object"),
        ({"payload": {"hints": [], "extra": 1}}, "unknown key(s) 'extra'"),
    ],
)
async def test_api_edit_names_the_wrong_part(app_client, queue, operator, body, expected):
    letter = await bury_one(queue)
    answer = await app_client.put(
        f"/api/dead-letters/{letter}/payload", json=body, headers=operator
    )
    assert answer.status_code == 422
    assert expected in answer.json()["detail"]
    assert (await queue.dead_letter(letter)).payload == {"hints": ["h1"]}  # type: ignore[union-attr]


async def test_api_edit_with_malformed_json_is_422_with_the_position(app_client, queue, operator):
    letter = await bury_one(queue)
    answer = await app_client.put(
        f"/api/dead-letters/{letter}/payload",
        content=b'{"payload": {"hints": [}',
        headers={**operator, "content-type": "application/json"},
    )
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["type"] == "json_invalid"
    assert error["loc"][0] == "body"
    assert isinstance(error["loc"][1], int)


async def test_page_edit_with_malformed_json_is_422_naming_line_and_column(
    app_client, queue, operator
):
    letter = await bury_one(queue)
    token = operator["X-CSRF-Token"]
    bad = '{\n  "hints": [\n    "a",\n  ]\n}'
    answer = await app_client.post(
        f"/dead-letters/{letter}/edit", data={"payload": bad, "csrf_token": token}
    )
    assert answer.status_code == 422
    assert "payload: not JSON at line 4 column 3" in answer.text
    assert "&#34;a&#34;," in answer.text or '"a",' in answer.text  # the typed text is kept
    wrong_shape = await app_client.post(
        f"/dead-letters/{letter}/edit", data={"payload": '{"hints": [true]}', "csrf_token": token}
    )
    assert wrong_shape.status_code == 422
    assert "payload.hints[0]" in wrong_shape.text
    good = await app_client.post(
        f"/dead-letters/{letter}/edit", data={"payload": '{"hints": ["b"]}', "csrf_token": token}
    )
    assert good.status_code == 303
    assert (await queue.dead_letter(letter)).payload == {"hints": ["b"]}  # type: ignore[union-attr]


async def test_replay_many_through_the_page_and_the_api(app_client, queue, operator):
    a = await bury_one(queue, "invoices", "k:a")
    b = await bury_one(queue, "invoices", "k:b")
    c = await bury_one(queue, "invoices", "k:c")
    token = operator["X-CSRF-Token"]
    form = await app_client.post(
        "/dead-letters/replay", data={"ids": [str(a), str(b)], "csrf_token": token}
    )
    assert form.status_code == 303
    api = await app_client.post(
        "/api/dead-letters/replay", json={"ids": [b, c, 999]}, headers=operator
    )
    assert api.status_code == 200
    outcome = api.json()
    assert list(outcome["replayed"]) == [str(c)]
    assert "replayed already" in outcome["refused"][str(b)]
    assert "no dead letter 999" in outcome["refused"]["999"]
    pending = {j.key for j in await queue.jobs(status=JobStatus.PENDING)}
    assert pending == {"k:a", "k:b", "k:c"}
    empty = await app_client.post("/api/dead-letters/replay", json={"ids": []}, headers=operator)
    assert empty.status_code == 422
    none_ticked = await app_client.post("/dead-letters/replay", data={"csrf_token": token})
    assert none_ticked.status_code == 422


async def test_discard_needs_a_reason_and_is_audited(app_client, queue, operator):
    letter = await bury_one(queue)
    no_reason = await app_client.post(
        f"/api/dead-letters/{letter}/discard", json={"reason": "  "}, headers=operator
    )
    assert no_reason.status_code == 422
    assert "reason" in no_reason.text
    token = operator["X-CSRF-Token"]
    form = await app_client.post(
        f"/dead-letters/{letter}/discard", data={"reason": "test data", "csrf_token": token}
    )
    assert form.status_code == 303
    assert await queue.dead_letter(letter) is None
    [entry] = (await app_client.get("/api/audit")).json()
    assert entry["action"] == "dead_letter.discard"
    assert entry["detail"]["reason"] == "test data"
    assert entry["detail"]["payload"] == {"hints": ["h1"]}
    again = await app_client.post(
        f"/api/dead-letters/{letter}/discard", json={"reason": "again"}, headers=operator
    )
    assert again.status_code == 404
    audit_page = await app_client.get("/audit")
    assert "dead_letter.discard" in audit_page.text


async def test_jobs_and_attempts(app_client, queue, operator):
    letter = await bury_one(queue)
    [dead] = (await app_client.get("/api/jobs", params={"status": "dead"})).json()
    assert dead["key"] == "fb:inv:1"
    attempts = (await app_client.get(f"/api/jobs/{dead['id']}/attempts")).json()
    assert [a["outcome"] for a in attempts] == ["dead"]
    bad = await app_client.get("/api/jobs", params={"status": "sleeping"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "status"]
    assert (await app_client.get(f"/dead-letters/{letter}")).status_code == 200
