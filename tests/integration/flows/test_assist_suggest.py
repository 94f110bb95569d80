"""Mapping suggestions on the sandboxes: describe, sampled and linked records, apply, decisions."""

from __future__ import annotations

from freshforce.assist.accept import accept, reject
from freshforce.assist.suggest import suggest
from freshforce.mapping import load_maps
from freshforce.store.mapping_decisions import Decision, list_decisions
from freshforce.store.scope import Scope

from .conftest import World

SCOPE = Scope("default", "clients")
MOBILES = ("647-555-0123", "514-555-0188", "438-555-0110")
_RULE = "  - freshbooks: mob_phone\n    salesforce: Contact.MobilePhone\n    transform: [trim]\n"


async def _without_mobile_rule(world: World) -> None:
    path = world.config_dir / "clients.yaml"
    text = path.read_text(encoding="utf-8")
    assert _RULE in text
    path.write_text(text.replace(_RULE, ""), encoding="utf-8")
    world.maps = load_maps(world.config_dir, profile="dev")


async def _linked_clients(world: World) -> None:
    """Three linked clients whose mobile numbers were typed on both sides by hand."""
    ids = [
        await world.fb_create(
            organization=f"Mobile Co {n}", fname="Ann", lname=f"Lee{n}", mob_phone=phone,
            email=f"ann{n}@mobile.example",
        )
        for n, phone in enumerate(MOBILES)
    ]  # fmt: skip
    await world.sync(*(f"freshbooks/client/{i}" for i in ids))
    for fb_id, phone in zip(ids, MOBILES, strict=True):
        [contact] = await world.soql(
            "SELECT Id FROM Contact WHERE Account.FreshBooks_Client_Id__c = "  # noqa: S608 - SOQL, values quoted
            f"'{fb_id}'"
        )
        await world.sf_update(contact["Id"], MobilePhone=phone)


async def test_linked_values_pick_the_mobile_phone_and_apply_writes_the_rule(world: World) -> None:
    await _without_mobile_rule(world)
    await _linked_clients(world)
    pair = await world.runtime.pair("default")
    found = await suggest(world.maps["clients"], pair, world.engine, tenant="default")
    assert found.linked >= len(MOBILES)
    mobile = found.suggestions["client.mob_phone"]
    assert mobile[0].target == "Contact.MobilePhone"
    assert f"{len(MOBILES)} of {len(MOBILES)} linked values equal" in mobile[0].reasons
    # Mapped targets and read-only or calculated fields are never offered.
    offered = {c.target for cs in found.suggestions.values() for c in cs}
    assert not offered & {"Account.Name", "Contact.Name", "Account.LastModifiedDate", "Contact.Id"}
    assert len(mobile) <= 3  # the ranking's top three (its pick is among them)
    assert found.picks()["client.mob_phone"] == mobile[0]

    path = await accept(world.engine, SCOPE, [mobile[0]], config_dir=world.config_dir, by="ann")
    text = path.read_text(encoding="utf-8")
    assert "# suggested (score" in text
    assert "  - freshbooks: mob_phone\n    salesforce: Contact.MobilePhone\n" in text
    assert "# Business rules in Python" in text  # the user's comments stay
    maps = load_maps(world.config_dir, profile="dev")
    assert any(r.freshbooks == ("mob_phone",) for r in maps["clients"].rules)
    async with world.engine.connect() as db:
        [decision] = await list_decisions(db, "default")
    assert (decision.source, decision.target, decision.decision) == (
        "client.mob_phone", "Contact.MobilePhone", Decision.ACCEPTED,
    )  # fmt: skip
    again = await suggest(maps["clients"], pair, world.engine, tenant="default")
    assert "client.mob_phone" not in again.suggestions


async def test_a_rejected_pair_is_not_suggested_again(world: World) -> None:
    await _without_mobile_rule(world)
    pair = await world.runtime.pair("default")
    first = await suggest(world.maps["clients"], pair, world.engine, tenant="default")
    wrong = first.suggestions["client.mob_phone"][0]
    await reject(world.engine, SCOPE, wrong.source, wrong.target, by="ann")
    after = await suggest(world.maps["clients"], pair, world.engine, tenant="default")
    assert wrong.target not in {c.target for c in after.suggestions.get("client.mob_phone", ())}
