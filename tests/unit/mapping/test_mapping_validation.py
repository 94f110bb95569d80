import shutil
from pathlib import Path

import pytest
from mapping_support import problems_of, write_flow

from freshforce.mapping import (
    SHIPPED_CATALOGUE,
    TRANSFORMS,
    MappingConfigError,
    System,
    check_maps,
    load_maps,
)

BROKEN = Path(__file__).parent / "broken"

# (case, file, line, column, key path, message)
CORPUS = [
    (
        "typo_key",
        "clients.yaml",
        8,
        5,
        "fields[0].directon",
        "unknown key 'directon' (did you mean 'direction'?)",
    ),
    ("wrong_type", "clients.yaml", 8, 15, "fields[0].required", "Input should be a valid boolean"),
    (
        "unknown_transform",
        "clients.yaml",
        8,
        23,
        "fields[0].transform[1]",
        "unknown transform 'lowercase' (did you mean 'lower'?)",
    ),
    (
        "unknown_field",
        "clients.yaml",
        6,
        17,
        "fields[0].freshbooks",
        "unknown freshbooks field client.organisation (did you mean 'organization'?)",
    ),
    (
        "unknown_field",
        "clients.yaml",
        9,
        17,
        "fields[1].salesforce",
        "unknown salesforce field Account.Nmae (did you mean 'Name'?)",
    ),
    (
        "bad_expression",
        "clients.yaml",
        8,
        43,
        "fields[0].expression",
        "bad expression: Expected ) before end of expression",
    ),
    (
        "missing_hook",
        "clients.yaml",
        10,
        7,
        "hooks.before_write[0]",
        "hook 'json:dumpz': json has no 'dumpz' (did you mean 'dump'?)",
    ),
    (
        "missing_hook",
        "clients.yaml",
        11,
        7,
        "hooks.before_write[1]",
        "module 'no_such_module_for_freshforce' not found",
    ),
    (
        "non_invertible",
        "clients.yaml",
        10,
        9,
        "fields[0].transform[1]",
        "transform 'template' works one way only",
    ),
    (
        "bad_named_value",
        "clients.yaml",
        8,
        14,
        "fields[0].default",
        "unknown named value $acount_type (did you mean '$account_type'?)",
    ),
    (
        "bad_named_value",
        "clients.yaml",
        11,
        23,
        "fields[1].transform[0].map",
        (
            "Input should be a valid dictionary "
            "(named value $home_currency, freshforce/mapping/defaults/values.yaml:5)"
        ),
    ),
    (
        "bad_named_value",
        "values.yaml",
        5,
        5,
        "profiles.prod.acount_type",
        "profile prod overrides unknown value 'acount_type' (did you mean 'account_type'?)",
    ),
    ("bad_enum", "clients.yaml", 8, 13, "fields[0].policy", "(did you mean 'salesforce_wins'?)"),
    ("yaml_syntax", "clients.yaml", 3, 1, "", "YAML: expected ',' or '}'"),
    (
        "wrong_file",
        "client.yaml",
        0,
        0,
        "",
        (
            "unknown file; expected clients.yaml, invoices.yaml, payments.yaml, values.yaml or "
            "mirror_<name>.yaml (did you mean 'clients'?)"
        ),
    ),
]


@pytest.mark.parametrize("case", sorted({row[0] for row in CORPUS}))
def test_each_broken_file_names_the_right_place(case, tmp_path) -> None:
    directory = tmp_path / case
    shutil.copytree(BROKEN / case, directory)
    maps, problems = check_maps(directory)
    assert maps is None
    found = [(Path(p.file).name, p.line, p.column, p.path) for p in problems]
    expected = [row[1:5] for row in CORPUS if row[0] == case]
    assert found == expected
    for problem, row in zip(problems, [r for r in CORPUS if r[0] == case], strict=True):
        assert row[5] in problem.message
        assert str(problem).startswith(f"{directory / row[1]}")


def test_every_problem_of_every_file_comes_in_one_error(tmp_path) -> None:
    for case in ("typo_key", "bad_named_value"):
        shutil.copytree(BROKEN / case, tmp_path, dirs_exist_ok=True)
    (tmp_path / "payments.yaml").write_text(
        "flow: payments\nlink: {freshbooks: payment_summary, salesforce: Opportunity}\n"
        "fields: [{freshbooks: statu, salesforce: Opportunity.StageName}]\n"
    )
    with pytest.raises(MappingConfigError) as caught:
        load_maps(tmp_path)
    places = [(Path(p.file).name, p.line) for p in caught.value.problems]
    assert places == [
        ("clients.yaml", 8),  # the corpus' clients.yaml of bad_named_value replaced typo_key's
        ("clients.yaml", 11),
        ("payments.yaml", 3),
        ("values.yaml", 5),
    ]
    assert "invalid mapping (4 problems)" in caught.value.message
    assert "payments.yaml:3:" in caught.value.message
    assert "(did you mean 'status'?)" in caught.value.message


def test_expression_errors_point_at_the_character(tmp_path) -> None:
    problems = problems_of(
        tmp_path,
        """
        - salesforce: Account.Description
          direction: to_salesforce
          expression: fname & & lname
        - salesforce: Account.Industry
          direction: to_salesforce
          expression: |
            $uppercase(
              fname & & lname)
        - {salesforce: Account.Type, direction: to_salesforce, when: "x & & y", default: a}
        """,
    )
    assert [(p.line, p.column, p.path) for p in problems] == [
        (7, 25, "fields[0].expression"),
        (12, 17, "fields[1].expression"),
        (13, 69, "fields[2].when"),
    ]
    assert "The symbol & cannot be used as a unary operator" in problems[0].message


def test_the_rest_of_the_rules_are_checked_when_one_is_wrong(tmp_path) -> None:
    problems = problems_of(
        tmp_path,
        """
        - {freshbooks: email, salesforce: Contact.Email, transform: [trim, {decimal: {scale: -1}}]}
        - {freshbooks: fname, salesforce: Contact.FirstName, inverse: [], direction: to_salesforce}
        - {freshbooks: [fname, lname], salesforce: Contact.LastName}
        - {freshbooks: email, salesforce: Email}
        - {freshbooks: email, salesforce: Lead.Email}
        - {freshbooks: email, salesforce: Contact.Email, transform: [{trim: x}]}
        - {freshbooks: email, salesforce: Contact.Email, transform: [{trim: 1, lower: 2}]}
        - {freshbooks: email}
        - {freshbooks: email, direction: to_salesforce}
        """,
        extra="match: [email, stored_link, {custom: 'json:nope'}]\n",
    )
    messages = [(p.line, p.path, p.message) for p in problems]
    assert messages == [
        (3, "match[1]", "stored_link is always tried first; list it first or leave it out"),
        (3, "match[2].custom", "hook 'json:nope': json has no 'nope'"),
        (
            6,
            "fields[0].transform[1].decimal.scale",
            "decimal: Input should be greater than or equal to 0",
        ),
        (7, "fields[1].inverse", "inverse is only for two-way rules (direction: both)"),
        (8, "fields[2]", "the transform chain gives 2 values for 1 target field(s)"),
        (
            9,
            "fields[3].salesforce",
            "write a Salesforce field as Object.Field (e.g. Account.Email)",
        ),
        (
            10,
            "fields[4].salesforce",
            "object 'Lead' is not linked by this map (linked: Account, Contact)",
        ),
        (11, "fields[5].transform[0].trim", "trim takes no parameters"),
        (
            12,
            "fields[6].transform[0]",
            "a step is a transform name, or {name: parameters} with one name",
        ),
        (13, "fields[7]", "a two-way rule needs fields on both sides; or set its direction"),
        (14, "fields[8]", "a rule that runs to_salesforce needs salesforce fields"),
    ]


def test_custom_fields_pass_and_another_catalogue_can_judge_them(tmp_path) -> None:
    fields = "- {freshbooks: note, salesforce: Account.Segment__c}\n"
    assert problems_of(tmp_path, fields) == []

    class Described:
        def objects(self, system):
            return SHIPPED_CATALOGUE.objects(system)

        def field_problem(self, system, obj, name):
            if system is System.SALESFORCE and name == "Segment__c":
                return f"{obj} has no field {name} in this org"
            return SHIPPED_CATALOGUE.field_problem(system, obj, name)

    _, problems = check_maps(write_flow(tmp_path, fields), catalogue=Described())
    assert [p.message for p in problems] == ["Account has no field Segment__c in this org"]


def test_a_file_must_hold_its_own_flow(tmp_path) -> None:
    (tmp_path / "invoices.yaml").write_text(
        "flow: clients\nlink: {freshbooks: client, salesforce: Account}\n"
    )
    _, problems = check_maps(tmp_path)
    assert [(p.line, p.message) for p in problems] == [
        (1, "this file is invoices.yaml but says flow: clients")
    ]


def test_duplicate_keys_are_reported(tmp_path) -> None:
    problems = problems_of(
        tmp_path, "- {freshbooks: email, freshbooks: fname, salesforce: Contact.Email}\n"
    )
    assert [(p.line, p.column, p.message) for p in problems] == [
        (4, 25, "duplicate key; the later one would silently win")
    ]


def test_shipped_defaults_are_valid_in_every_profile() -> None:
    for profile in (None, "dev", "qa", "prod"):
        maps, problems = check_maps(None, profile=profile)
        assert problems == []
        assert maps is not None
        assert sorted(maps.flows) == ["clients", "invoices", "payments"]


def test_docs_describe_every_transform() -> None:
    text = (Path(__file__).parents[3] / "docs" / "mapping.md").read_text()
    missing = [name for name in TRANSFORMS if f"### `{name}`" not in text]
    assert missing == []
