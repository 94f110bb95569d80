import sys
from pathlib import Path

import pytest
from mapping_support import flow_map

from freshforce.mapping import Direction, HookContext

HERE = Path(__file__).parent


@pytest.fixture
def hooked(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))

    def build(*hooks: str):
        listed = ", ".join(f"'mapping_hooks_example:{name}'" for name in hooks)
        return flow_map(
            tmp_path,
            """
            - {freshbooks: email, salesforce: Contact.Email, transform: [trim, lower]}
            - {freshbooks: bus_phone, salesforce: Account.Phone}
            - {salesforce: Account.Type, direction: to_salesforce, default: Customer}
            """,
            extra=f"hooks: {{before_write: [{listed}]}}\n",
        )

    return build


def decide(flow, record):
    change = flow.apply(record, Direction.TO_SALESFORCE).values
    context = HookContext(
        flow="clients",
        direction=Direction.TO_SALESFORCE,
        record_key=f"freshbooks/client/{record.get('id')}",
        source=record,
        target=None,
        link=None,
        change=change,
    )
    return flow.run_hooks(context)


def test_a_hook_amends_the_change(hooked) -> None:
    flow = hooked("tag_vip", "skip_internal")
    decision = decide(flow, {"id": 1, "email": "A@B.C", "bus_phone": "1", "note": "vip"})
    assert decision.action == "write"
    assert decision.change == {"Contact.Email": "a@b.c", "Account.Type": "VIP"}
    plain = decide(flow, {"id": 2, "email": "x@y.z", "bus_phone": "1"})
    assert plain.change["Account.Type"] == "Customer"
    assert plain.change["Account.Phone"] == "1"


def test_a_hook_skips_with_a_reason_and_later_hooks_do_not_run(hooked) -> None:
    decision = decide(hooked("skip_internal", "explode"), {"id": 3, "email": "me@example.com"})
    assert (decision.action, decision.reason) == ("skip", "internal address me@example.com")
    assert decision.hook == "mapping_hooks_example:skip_internal"


def test_a_hook_fails_the_record_permanently(hooked) -> None:
    decision = decide(hooked("refuse_blocked"), {"id": 4, "email": "a@b.c", "vis_state": 1})
    assert (decision.action, decision.reason) == ("fail", "client is blocked")


def test_a_raising_hook_fails_only_that_record_and_is_named(hooked) -> None:
    decision = decide(hooked("explode"), {"id": 5, "email": "a@b.c"})
    assert decision.action == "fail"
    assert decision.reason == (
        "hook mapping_hooks_example:explode raised RuntimeError: boom for freshbooks/client/5"
    )
    assert decision.hook == "mapping_hooks_example:explode"


def test_a_hook_returning_something_else_fails_the_record(hooked) -> None:
    decision = decide(hooked("confused"), {"id": 6, "email": "a@b.c"})
    assert decision.action == "fail"
    assert "returned 'yes'; expected None, Amend, Skip or Fail" in decision.reason


def test_a_hook_can_live_beside_the_maps(tmp_path) -> None:
    (tmp_path / "beside_maps_vip.py").write_text(
        "from freshforce.mapping import Skip\n\n"
        "def tag(context):\n"
        "    return Skip('beside the maps')\n"
    )
    flow = flow_map(
        tmp_path,
        "- {freshbooks: email, salesforce: Contact.Email}\n",
        extra="hooks: {before_write: 'beside_maps_vip:tag'}\n",
    )
    assert str(tmp_path) not in sys.path
    assert decide(flow, {"id": 1, "email": "a@b.c"}).reason == "beside the maps"
