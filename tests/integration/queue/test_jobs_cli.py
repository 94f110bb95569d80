import asyncio
import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from freshforce.cli import app
from freshforce.engine import JobQueue
from freshforce.store.engine import create_engine
from freshforce.store.migrate import upgrade

runner = CliRunner()


def now() -> datetime:
    return datetime.now(UTC)


def seed(url: str) -> int:
    """Two pending jobs and one dead letter; return the letter id."""

    async def main() -> int:
        await upgrade(url)
        engine = create_engine(url)
        try:
            queue = JobQueue(engine, clock=now)
            async with engine.begin() as conn:
                await queue.enqueue(conn, "clients", "fb/client/1", ["a"], delay=3600)
                await queue.enqueue(conn, "invoices", "sf/Opportunity/2", ["b"])
            [job] = await queue.claim("w", 1)
            letter = await queue.bury(
                job, "w", started_at=now(), error_class="PermanentError", error_message="no lines"
            )
            assert letter is not None
            return letter
        finally:
            await engine.dispose()

    return asyncio.run(main())


def invoke(url: str, *args: str):
    return runner.invoke(app, [*args, "--database-url", url])


def test_jobs_list_and_dead_letter_round_trip(database_url) -> None:
    letter = seed(database_url)
    listed = invoke(database_url, "jobs", "list", "--json")
    assert listed.exit_code == 0, listed.output
    jobs = json.loads(listed.stdout)
    assert {(j["flow"], j["status"]) for j in jobs} == {
        ("clients", "pending"),
        ("invoices", "dead"),
    }
    waiting = next(j for j in jobs if j["status"] == "pending")

    retried = invoke(database_url, "jobs", "retry", str(waiting["id"]), "--json")
    assert retried.exit_code == 0, retried.output
    assert json.loads(retried.stdout) == {"due_now": [waiting["id"]], "not_pending": []}

    shown = invoke(database_url, "jobs", "dead", "show", str(letter), "--json")
    assert json.loads(shown.stdout)["payload"] == {"hints": ["b"]}

    edited = invoke(
        database_url, "jobs", "dead", "edit", str(letter), "--payload", '{"hints":["c"]}'
    )
    assert edited.exit_code == 0, edited.output
    replayed = invoke(database_url, "jobs", "dead", "replay", str(letter), "--json")
    assert replayed.exit_code == 0, replayed.output
    new_job = json.loads(replayed.stdout)["job_id"]

    pending = json.loads(
        invoke(database_url, "jobs", "list", "--status", "pending", "--json").stdout
    )
    assert {j["id"]: j["hints"] for j in pending}[new_job] == ["c"]
    assert json.loads(invoke(database_url, "jobs", "dead", "list", "--json").stdout) == []
    everything = invoke(database_url, "jobs", "dead", "list", "--all", "--json")
    assert [d["id"] for d in json.loads(everything.stdout)] == [letter]


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ff.db'}"
    seed(url)
    return url


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["jobs", "list", "--status", "stuck"], 2, "'stuck' is not a job status"),
        (["jobs", "retry", "999"], 1, "not pending (unknown, running, done or dead): 999"),
        (["jobs", "dead", "show", "999"], 1, "no dead letter 999"),
        (["jobs", "dead", "replay", "999"], 1, "no dead letter 999 waiting for replay"),
        (["jobs", "dead", "edit", "1", "--payload", "{nope"], 2, "not JSON (line 1 column 2"),
        (["jobs", "dead", "edit", "1", "--payload", '{"hints": [1]}'], 2, "payload.hints[0]"),
        (["jobs", "dead", "edit", "1"], 2, "give exactly one of --payload"),
        (["jobs", "retry", "abc"], 2, "Input should be a valid integer"),
    ],
)
def test_bad_input_exits_non_zero_with_a_clear_message(sqlite_url, args, code, message) -> None:
    result = runner.invoke(app, [*args, "--database-url", sqlite_url], env={"COLUMNS": "200"})
    assert result.exit_code == code
    assert message in " ".join(result.output.split())


def test_bad_and_unreachable_databases_are_clear_errors(tmp_path) -> None:
    bad = runner.invoke(app, ["jobs", "list", "--database-url", "nonsense"])
    assert bad.exit_code == 2  # the flag overrides the setting, which validates it
    assert "database_url: must start with sqlite:// or postgresql://" in bad.output
    down = runner.invoke(
        app, ["jobs", "list", "--database-url", "postgresql://u:s3cret@127.0.0.1:1/x"]
    )
    assert down.exit_code == 1
    assert "cannot use the database postgresql://u:***@127.0.0.1:1/x" in down.output
    assert "s3cret" not in down.output


def test_every_flag_shows_its_environment_variable(tmp_path) -> None:
    for command in (["worker"], ["jobs", "list"], ["jobs", "dead", "list"], ["jobs", "retry"]):
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "250"})
        assert result.exit_code == 0
        options = [line for line in result.output.splitlines() if line.strip("│ ").startswith("--")]
        assert options
        for line in options:
            if "--help" not in line:
                assert "env var: FRESHFORCE_" in line, line
    # The settings validate FRESHFORCE_DATABASE_URL and name the variable.
    result = runner.invoke(app, ["jobs", "list"], env={"FRESHFORCE_DATABASE_URL": "nonsense"})
    assert result.exit_code == 2
    assert "FRESHFORCE_DATABASE_URL: must start with sqlite://" in result.output
    # An explicit --database-url is checked as the setting it overrides.
    result = runner.invoke(app, ["jobs", "list", "--database-url", "nonsense"])
    assert result.exit_code == 2
    assert "option database_url: must start with sqlite://" in result.output
