import json
import string
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mapping_support import flow_map, problems_of

from freshforce.mapping import TRANSFORMS, Direction, MappingRecordError, Rate
from freshforce.mapping.transforms import StepContext, TransformError
from freshforce.mapping.transforms.dates import format_utc
from freshforce.mapping.transforms.money import ROUNDING_MODES

TO_SF, TO_FB = Direction.TO_SALESFORCE, Direction.TO_FRESHBOOKS
EASTERN = ZoneInfo("America/New_York")
word = st.text(string.ascii_letters + "éøß-'", min_size=1, max_size=8)


def run(name: str, value: object, /, **params: object) -> object:
    definition = TRANSFORMS[name]
    step = definition.build(definition.params.model_validate(params))
    return step(value, StepContext({}))


@pytest.fixture(scope="module")
def names_map(tmp_path_factory):
    return flow_map(
        tmp_path_factory.mktemp("names"),
        """
        - {freshbooks: [fname, lname], salesforce: Account.Name, transform: [join_name]}
        """,
    )


@given(first=st.lists(word, min_size=0, max_size=3), last=word)
def test_first_and_last_round_trip_through_one_name(names_map, first, last) -> None:
    record = {"fname": " ".join(first), "lname": last}
    name = names_map.apply(record, TO_SF).values["Account.Name"]
    back = names_map.apply({"Account": {"Name": name}}, TO_FB).values
    assert back == {"fname": " ".join(first), "lname": last}


@given(words=st.lists(word, min_size=0, max_size=4), spaces=st.sampled_from([" ", "  ", "\t"]))
def test_a_full_name_round_trips_through_first_and_last(names_map, words, spaces) -> None:
    parts = names_map.apply({"Account": {"Name": f" {spaces.join(words)} "}}, TO_FB).values
    again = names_map.apply(parts, TO_SF).values["Account.Name"]
    assert again == " ".join(words)


def test_split_name_rules_for_several_words_and_empty_parts() -> None:
    assert run("split_name", "Mary Ann Smith") == ["Mary Ann", "Smith"]
    assert run("split_name", "Mary Ann Smith", several="first_word") == ["Mary", "Ann Smith"]
    assert run("split_name", "Cher") == ["", "Cher"]
    assert run("split_name", "Cher", single="first") == ["Cher", ""]
    assert run("split_name", "   ") == ["", ""]
    assert run("split_name", None) == ["", ""]
    assert run("join_name", ["", "Smith"]) == "Smith"
    assert run("join_name", [None, None]) == ""


EARLIEST = datetime(2000, 1, 1)  # noqa: DTZ001  # FreshBooks wall times are naive
LATEST = datetime(2040, 12, 31)  # noqa: DTZ001  # same
naive_times = st.datetimes(min_value=EARLIEST, max_value=LATEST).map(
    lambda moment: moment.replace(microsecond=0)
)


def _exists(wall: datetime) -> bool:
    aware = wall.replace(tzinfo=EASTERN)
    return aware.astimezone(UTC).astimezone(EASTERN).replace(tzinfo=None) == wall


@given(wall=naive_times)
def test_eastern_wall_times_round_trip_through_utc(wall) -> None:
    text = wall.strftime("%Y-%m-%d %H:%M:%S")
    utc = run("naive_to_utc", text)
    back = run("utc_to_naive", utc)
    if _exists(wall):
        assert back == text
    else:  # the spring-forward hour moves forward by the gap
        assert back == (wall + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")


@given(moment=st.datetimes(min_value=EARLIEST, max_value=LATEST))
def test_utc_instants_round_trip_through_eastern_wall_time(moment) -> None:
    instant = moment.replace(microsecond=0, tzinfo=UTC)
    wall = run("utc_to_naive", format_utc(instant))
    back = run("naive_to_utc", wall)
    local = instant.astimezone(EASTERN)
    if local.fold:  # the second 01:xx of November: FreshBooks text cannot tell it apart
        assert back == format_utc(instant - timedelta(hours=1))
    else:
        assert back == format_utc(instant)


def test_dst_edges_in_both_directions() -> None:
    assert run("naive_to_utc", "2020-11-01 13:11:10") == "2020-11-01T18:11:10.000+0000"
    assert run("naive_to_utc", "2026-07-01 12:00:00") == "2026-07-01T16:00:00.000+0000"
    # 2026-03-08 02:30 never happened in New York; 2026-11-01 01:30 happened twice.
    assert run("naive_to_utc", "2026-03-08 02:30:00") == "2026-03-08T07:30:00.000+0000"
    assert run("naive_to_utc", "2026-11-01 01:30:00") == "2026-11-01T05:30:00.000+0000"
    later = run("naive_to_utc", "2026-11-01 01:30:00", ambiguous="later")
    assert later == "2026-11-01T06:30:00.000+0000"
    with pytest.raises(TransformError, match="does not exist"):
        run("naive_to_utc", "2026-03-08 02:30:00", nonexistent="error")
    with pytest.raises(TransformError, match="happened twice"):
        run("naive_to_utc", "2026-11-01 01:30:00", ambiguous="error")
    assert run("utc_to_naive", "2026-11-01T06:30:00.000+0000") == "2026-11-01 01:30:00"
    assert run("utc_to_naive", "2026-11-01T05:30:00Z") == "2026-11-01 01:30:00"
    with pytest.raises(TransformError, match="no UTC offset"):
        run("utc_to_naive", "2026-11-01T05:30:00")
    assert run("date", "2026-02-03 10:00:00") == "2026-02-03"
    with pytest.raises(TransformError, match="'2026-02-30'"):
        run("date", "2026-02-30")


decimals = st.decimals(
    min_value=Decimal("-1e9"), max_value=Decimal("1e9"), allow_nan=False, places=6
)


@pytest.mark.parametrize("rounding", sorted(ROUNDING_MODES))
@settings(max_examples=60)
@given(value=decimals, scale=st.integers(min_value=0, max_value=4))
def test_decimals_round_by_the_mode_and_round_trip(rounding, value, scale) -> None:
    once = run("decimal", str(value), scale=scale, rounding=rounding)
    expected = value.quantize(Decimal(1).scaleb(-scale), rounding=ROUNDING_MODES[rounding])
    assert once == expected
    assert run("decimal", once, scale=scale, rounding=rounding) == once


@pytest.fixture(scope="module")
def money_map(tmp_path_factory):
    return flow_map(
        tmp_path_factory.mktemp("money"),
        """
        - {freshbooks: amount, salesforce: [Opportunity.Amount, Opportunity.CurrencyIsoCode],
           transform: [money]}
        - {freshbooks: outstanding, salesforce: Opportunity.FreshBooks_Balance__c,
           transform: [{money: {currency: CAD, rounding: half_up}}]}
        """,
        flow="invoices",
    )


amounts = st.decimals(min_value=Decimal(0), max_value=Decimal("1e10"), places=2)
codes = st.sampled_from(["USD", "CAD", "EUR", "JPY"])


@given(amount=amounts, code=codes)
def test_money_round_trips_both_ways(money_map, amount, code) -> None:
    record = {
        "amount": {"amount": format(amount, "f"), "code": code},
        "outstanding": {"amount": str(amount), "code": "CAD"},
    }
    out = money_map.apply(record, TO_SF).values
    assert out["Opportunity.Amount"] == amount
    assert out["Opportunity.CurrencyIsoCode"] == code
    back = money_map.apply({"Opportunity": {k.split(".")[1]: v for k, v in out.items()}}, TO_FB)
    assert back.values["amount"] == {
        "amount": format(amount.quantize(Decimal("0.01")), "f"),
        "code": code,
    }
    assert back.values["outstanding"]["code"] == "CAD"
    assert Decimal(back.values["outstanding"]["amount"]) == amount


def test_money_in_an_unexpected_currency_names_it(money_map) -> None:
    record = {
        "amount": {"amount": "1", "code": "USD"},
        "outstanding": {"amount": "2", "code": "EUR"},
    }
    with pytest.raises(MappingRecordError, match="money in EUR where CAD is expected"):
        money_map.apply(record, TO_SF)


def test_currency_conversion_returns_the_rate_and_its_date(tmp_path) -> None:
    flow = flow_map(
        tmp_path,
        """
        - {freshbooks: amount, salesforce: Opportunity.Amount, direction: to_salesforce,
           transform: [{convert: {to: USD, rates: $fx}}, {money: USD}]}
        """,
        flow="invoices",
        values="""
        values:
          fx: {base: USD, as_of: 2026-11-30, rates: {CAD: "1.25", EUR: "0.80"}}
        """,
    )
    out = flow.apply({"amount": {"amount": "100.00", "code": "CAD"}}, TO_SF)
    assert out.values["Opportunity.Amount"] == Decimal("80.00")
    rate = out.traces["Opportunity.Amount"].rate
    assert rate is not None
    assert (rate.rate.source, rate.rate.target, rate.rate.value) == ("CAD", "USD", Decimal("0.8"))
    assert str(rate.rate.as_of) == "2026-11-30"
    assert (rate.amount_in, rate.amount_out) == (Decimal("100.00"), Decimal("80.00"))
    with pytest.raises(MappingRecordError, match="no conversion rate from GBP to USD"):
        flow.apply({"amount": {"amount": "1", "code": "GBP"}}, TO_SF)


def test_runtime_rates_are_asked_for_the_record_date(tmp_path) -> None:
    asked = []

    class Rates:
        def rate(self, source, target, on):
            asked.append((source, target, on))
            return Rate(source, target, Decimal("0.5"), on, "DatedConversionRate")

    flow = flow_map(
        tmp_path,
        """
        - {freshbooks: amount, salesforce: Opportunity.Amount, direction: to_salesforce,
           transform: [{convert: {to: USD, date_field: create_date}}, {money: USD}]}
        """,
        flow="invoices",
    )
    record = {"amount": {"amount": "10", "code": "EUR"}, "create_date": "2026-05-04"}
    out = flow.apply(record, TO_SF, rates=Rates())
    assert out.values["Opportunity.Amount"] == Decimal("5.00")
    assert str(asked[0][2]) == "2026-05-04"
    assert out.traces["Opportunity.Amount"].rate.rate.origin == "DatedConversionRate"


tables = st.dictionaries(
    st.text(string.ascii_lowercase, min_size=1, max_size=6),
    st.text(string.ascii_uppercase, min_size=1, max_size=6),
    min_size=1,
    max_size=6,
).filter(lambda table: len(set(table.values())) == len(table))


@settings(max_examples=30, deadline=None)
@given(table=tables)
def test_value_maps_work_both_ways(tmp_path_factory, table) -> None:
    flow = flow_map(
        tmp_path_factory.mktemp("map"),
        "- {freshbooks: note, salesforce: Account.Type, transform: [{map: $kinds}]}\n",
        values=f"values:\n  kinds: {json.dumps(table)}\n",
    )
    for key, value in table.items():
        assert flow.apply({"note": key}, TO_SF).values["Account.Type"] == value
        assert flow.apply({"Account": {"Type": value}}, TO_FB).values["note"] == key


def test_an_unmapped_value_is_named_unless_a_fallback_is_declared(tmp_path) -> None:
    flow = flow_map(
        tmp_path,
        """
        - {freshbooks: note, salesforce: Account.Type,
           transform: [{map: {values: {a: A, b: B}, fallback: Other, inverse_fallback: z}}]}
        - {freshbooks: language, salesforce: Account.Industry, transform: [{map: {en: English}}]}
        """,
    )
    assert flow.apply({"note": "q", "language": "en"}, TO_SF).values["Account.Type"] == "Other"
    assert (
        flow.apply({"Account": {"Type": "Q", "Industry": "English"}}, TO_FB).values["note"] == "z"
    )
    with pytest.raises(MappingRecordError, match="value 'fr' is not in the map") as caught:
        flow.apply({"note": "a", "language": "fr"}, TO_SF)
    assert "clients.yaml:7: rule 'Account.Industry', record freshbooks/client/None" in str(
        caught.value
    )


def test_a_map_that_cannot_be_reversed_is_a_problem_on_a_two_way_rule(tmp_path) -> None:
    problems = problems_of(
        tmp_path,
        "- {freshbooks: note, salesforce: Account.Type, transform: [{map: {a: X, b: X}}]}\n",
    )
    assert [(p.line, p.path) for p in problems] == [(4, "fields[0].transform[0]")]
    assert "'X' comes from both 'a' and 'b'" in problems[0].message


@given(number=st.integers(min_value=-(10**12), max_value=10**12))
def test_ids_round_trip_between_integer_and_text(number) -> None:
    assert run("integer", run("text", number, of="integer")) == number


@given(
    parts=st.lists(
        st.text(string.ascii_letters + " ", min_size=1, max_size=8), min_size=2, max_size=2
    )
)
def test_join_and_split_round_trip(parts) -> None:
    parts = [" ".join(part.split()) or "x" for part in parts]
    assert run("split", run("join", parts, sep="\n"), sep="\n", parts=2) == parts


@pytest.mark.parametrize(
    ("given", "code", "name"),
    [
        ("canada", "CA", "Canada"),
        ("USA", "US", "United States"),
        ("de", "DE", "Germany"),
        ("UK", "GB", "United Kingdom"),
    ],
)
def test_countries_normalise_to_code_or_name_and_stay_put(given, code, name) -> None:
    assert run("country", given) == code
    assert run("country", given, to="name") == name
    assert run("country", run("country", given)) == code
    with pytest.raises(TransformError, match="'Atlantis' is not a known country"):
        run("country", "Atlantis")
    assert run("country", "Atlantis", unknown="keep") == "Atlantis"


def test_provinces_normalise_with_their_country() -> None:
    assert run("province", ["ontario", "Canada"]) == ["ON", "CA"]
    assert run("province", ["ON", "CA"], to="name") == ["Ontario", "Canada"]
    assert run("province", "Quebec", country="CA") == "QC"
    assert run("province", "new york", country="US", to="name") == "New York"
    with pytest.raises(TransformError, match="'Narnia' is not a province of CA"):
        run("province", ["Narnia", "CA"])
    assert run("province", ["Narnia", ""], unknown="keep") == ["Narnia", ""]


def test_trim_case_and_default() -> None:
    assert run("trim", "  a b ") == "a b"
    assert run("case", "Ab", to="upper") == "AB"
    assert run("title", "ada lovelace") == "Ada Lovelace"
    assert run("default", "", value="x") == "x"
    assert run("default", "y", value="x") == "y"
    assert run("template", None, template="x") == "x"
