"""Realistic sandbox data from a fixed seed: accounts, contacts, products and opportunities.

In a multi-currency org products also get EUR prices and every fourth account and its deal
are in EUR; the random draws are the same either way.

The same ``seed`` and count always give the same records (names, amounts, stages), so a demo and
a test can rely on them. Records are written through the state like any API write.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import timedelta

from faker import Faker

from freshforce.sandbox.salesforce.currency import DEFAULT_CURRENCIES, is_multi_currency
from freshforce.sandbox.salesforce.objects import OPPORTUNITY_STAGES
from freshforce.sandbox.salesforce.state import SalesforceState, Transaction, WriteContext

__all__ = ["seed_org"]

_FAMILIES = ("Hardware", "Software", "Services")
_ROLES = ("Business User", "Decision Maker", "Economic Buyer", "Influencer")
# In a multi-currency org every fourth account deals in the second default currency.
_SECOND_CURRENCY = next(iter(DEFAULT_CURRENCIES[1:]), None)
_ABROAD_EVERY = 4


def _products(
    tx: Transaction, fake: Faker, rng: random.Random, count: int
) -> tuple[list[str], dict[str, str]]:
    """Create products with standard prices; return the entries and their EUR twins.

    The twins (entry -> the same product's EUR entry) exist only in a multi-currency org.
    """
    pricebook = tx.state.standard_pricebook_id()
    entries = []
    twins: dict[str, str] = {}
    for n in range(count):
        product = tx.create(
            "Product2",
            {
                "Name": f"{fake.word().title()} {rng.choice(('Pro', 'Plus', 'Basic', 'Suite'))}",
                "ProductCode": f"SKU-{n + 1:04d}",
                "Family": rng.choice(_FAMILIES),
                "IsActive": True,
            },
        )
        price = round(rng.uniform(20, 2000), 2)
        entries.append(
            tx.create(
                "PricebookEntry",
                {
                    "Pricebook2Id": pricebook,
                    "Product2Id": product,
                    "UnitPrice": price,
                    "IsActive": True,
                },
            )
        )
        if _SECOND_CURRENCY is not None and is_multi_currency(tx.state.catalog):
            code, rate = _SECOND_CURRENCY
            body = {"Pricebook2Id": pricebook, "Product2Id": product, "IsActive": True}
            body |= {"UnitPrice": round(price * rate, 2), "CurrencyIsoCode": code}
            twins[entries[-1]] = tx.create("PricebookEntry", body)
    return entries, twins


def _account(tx: Transaction, fake: Faker, extra: Mapping[str, object]) -> tuple[str, list[str]]:
    account = tx.create(
        "Account",
        {
            **extra,
            "Name": fake.company(),
            "BillingStreet": fake.street_address(),
            "BillingCity": fake.city(),
            "BillingPostalCode": fake.postcode(),
            "BillingCountry": "United States",
            "Phone": fake.phone_number()[:40],
            "Website": fake.url(),
            "Industry": "Technology",
        },
    )
    contacts = []
    for _ in range(2):
        first, last = fake.first_name(), fake.last_name()
        contacts.append(
            tx.create(
                "Contact",
                {
                    "FirstName": first,
                    "LastName": last,
                    "Email": f"{first}.{last}@{fake.domain_name()}".lower(),
                    "AccountId": account,
                    "Title": fake.job()[:128],
                },
            )
        )
    return account, contacts


def _opportunity(
    tx: Transaction,
    fake: Faker,
    rng: random.Random,
    account: tuple[str, list[str]],
    entries: list[str],
    *,
    twins: Mapping[str, str] | None,
) -> None:
    """Create an opportunity with products; ``twins`` maps entries to those of its currency."""
    account_id, contacts = account
    stage = rng.choice(OPPORTUNITY_STAGES)[0]
    close = tx.now.date() + timedelta(days=rng.randint(-60, 90))
    extra = (
        {}
        if twins is None or _SECOND_CURRENCY is None
        else {"CurrencyIsoCode": _SECOND_CURRENCY[0]}
    )
    opportunity = tx.create(
        "Opportunity",
        {
            **extra,
            "Name": f"{fake.bs().title()}"[:120],
            "AccountId": account_id,
            "StageName": stage,
            "CloseDate": close.isoformat(),
        },
    )
    for entry in rng.sample(entries, k=min(len(entries), rng.randint(1, 3))):
        tx.create(
            "OpportunityLineItem",
            {
                "OpportunityId": opportunity,
                "PricebookEntryId": entry if twins is None else twins[entry],
                "Quantity": rng.randint(1, 10),
            },
        )
    tx.create(
        "OpportunityContactRole",
        {
            "OpportunityId": opportunity,
            "ContactId": contacts[0],
            "Role": rng.choice(_ROLES),
            "IsPrimary": True,
        },
    )


def seed_org(state: SalesforceState, records: int, seed: int) -> dict[str, int]:
    """Add ``records`` accounts (two contacts each), as many opportunities and some products."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    before = {spec.name: state.count(spec.name) for spec in state.catalog}
    with state.transaction(WriteContext(user_id=state.admin_user_id)) as tx:
        entries, twins = _products(tx, fake, rng, max(3, records // 5)) if records else ([], {})
        for n in range(records):
            abroad = bool(twins) and n % _ABROAD_EVERY == _ABROAD_EVERY - 1
            extra = {"CurrencyIsoCode": _SECOND_CURRENCY[0]} if abroad and _SECOND_CURRENCY else {}
            account = _account(tx, fake, extra)
            _opportunity(tx, fake, rng, account, entries, twins=twins if abroad else None)
    return {
        spec.name: state.count(spec.name) - before[spec.name]
        for spec in state.catalog
        if state.count(spec.name) != before[spec.name]
    }
