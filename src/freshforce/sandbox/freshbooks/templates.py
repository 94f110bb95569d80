"""The fields each accounting resource accepts on write, with their defaults on create.

Keys not listed here are ignored on write, as FreshBooks ignores unknown fields.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TEMPLATES"]

Record = dict[str, Any]  # wire fields, JSON values

CLIENT_FIELDS: Record = {
    "fname": "",
    "lname": "",
    "organization": "",
    "email": "",
    "bus_phone": "",
    "mob_phone": "",
    "home_phone": "",
    "fax": "",
    **{f"{p}_{f}": "" for p in "ps" for f in ("street", "street2", "city", "province", "code")},
    "p_country": "",
    "s_country": "",
    "currency_code": "USD",
    "language": "en",
    "note": None,
    "vat_name": None,
    "vat_number": None,
    "company_industry": None,
    "company_size": None,
    "pref_email": True,
    "pref_gmail": False,
    "allow_late_fees": True,
    "allow_late_notifications": True,
    "allow_email_include_pdf": False,
}
INVOICE_FIELDS: Record = {
    "create_date": None,
    "due_offset_days": 0,
    "currency_code": None,
    "language": "en",
    "discount_value": "0",
    "discount_description": None,
    "po_number": None,
    "terms": None,
    "notes": "",
    "description": "",
    "address": "",
    "template": "clean-grouped",
    "invoice_number": None,
    "auto_bill": False,
    "deposit_amount": None,
    "deposit_percentage": None,
    "vat_name": None,
    "vat_number": None,
}
PAYMENT_FIELDS: Record = {
    "date": None,
    "type": "Check",
    "note": "",
    "transactionid": None,
    "orderid": None,
}
ITEM_FIELDS: Record = {
    "name": "",
    "description": "",
    "qty": "0",
    "sku": None,
    "inventory": None,
    "unit_cost": None,
    "tax1": 0,
    "tax2": 0,
}
TAX_FIELDS: Record = {"name": "", "amount": "0", "number": None, "compound": False}
TEMPLATES = {
    "clients": CLIENT_FIELDS,
    "invoices": INVOICE_FIELDS,
    "payments": PAYMENT_FIELDS,
    "items": ITEM_FIELDS,
    "taxes": TAX_FIELDS,
}
