from datetime import UTC, datetime, timedelta, timezone

import pytest

from freshforce.connectors.salesforce.soql import by_ids, check_name, literal, modstamp_poll


def test_literals() -> None:
    assert literal("O'Brien\\x") == "'O\\'Brien\\\\x'"
    assert literal(None) == "null"
    assert literal(value=True) == "TRUE"
    paris = timezone(timedelta(hours=1))
    assert literal(datetime(2024, 1, 31, 11, 0, 5, 999, tzinfo=paris)) == "2024-01-31T10:00:05Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        literal(datetime(2024, 1, 31))  # noqa: DTZ001


def test_by_ids_normalises_to_18() -> None:
    soql = by_ids("Account", ["Name", "Id"], ["001D000000IRFma"])
    assert soql == "SELECT Id, Name FROM Account WHERE Id IN ('001D000000IRFmaIAH')"


def test_modstamp_poll_is_inclusive_and_ordered() -> None:
    since = datetime(2026, 1, 1, 10, 0, 0, 500_000, tzinfo=UTC)
    assert modstamp_poll("Account", ["Name"], since, 500) == (
        "SELECT Id, Name, SystemModstamp FROM Account WHERE SystemModstamp >= "
        "2026-01-01T10:00:00Z ORDER BY SystemModstamp, Id LIMIT 500"
    )


@pytest.mark.parametrize("bad", ["Name; DELETE", "1Name", "", "Account.", "a b"])
def test_names_are_checked(bad: str) -> None:
    with pytest.raises(ValueError, match="API name"):
        check_name(bad)
    assert check_name("Account.Owner.Name") == "Account.Owner.Name"
