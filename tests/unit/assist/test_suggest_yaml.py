"""Accepted suggestions go into the flow file as text: the user's comments and layout stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from freshforce.assist.scoring import Candidate
from freshforce.assist.yamlapply import insert_rules
from freshforce.errors import ConfigError

PICK = Candidate("client.mob_phone", "Contact.MobilePhone", 1.23, ("3 of 3 linked values equal",))
FILE = """\
flow: clients   # my flow
fields:
    # the name
    - freshbooks: organization
      salesforce: Account.Name

    # - freshbooks: later
# trailing remark
hooks: {}"""


def test_rules_go_after_the_last_item_with_its_indent(tmp_path: Path) -> None:
    path = tmp_path / "clients.yaml"
    path.write_text(FILE, encoding="utf-8")
    before = insert_rules(path, [PICK])
    assert before == FILE
    text = path.read_text(encoding="utf-8")
    assert (
        text
        == FILE.replace(
            "      salesforce: Account.Name\n",
            "      salesforce: Account.Name\n\n"
            "    # suggested (score 1.23): 3 of 3 linked values equal\n"
            "    - freshbooks: mob_phone\n"
            "      salesforce: Contact.MobilePhone\n",
        )
        + "\n"
    )  # the only other change: the last line gains its newline


def test_a_flow_style_list_is_refused_with_the_file_named(tmp_path: Path) -> None:
    path = tmp_path / "clients.yaml"
    path.write_text("flow: clients\nfields: [{freshbooks: a, salesforce: Account.Name}]\n")
    with pytest.raises(ConfigError, match=r"clients\.yaml: no block-style `fields:`"):
        insert_rules(path, [PICK])
