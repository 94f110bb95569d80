"""The standard FreshBooks and Salesforce fields a map may name, and the seam for a live describe.

:class:`ShippedCatalogue` knows the documented fields of the objects the three flows link. A
Salesforce custom field (``…__c``) is accepted on any known object: only a live org's describe
can say whether it exists, and a catalogue built from one (environments) can be passed instead
through the :class:`FieldCatalogue` protocol.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Protocol

from freshforce.mapping.problems import did_you_mean

__all__ = ["SHIPPED_CATALOGUE", "FieldCatalogue", "ShippedCatalogue", "System"]


class System(StrEnum):
    """The two sides of every flow."""

    FRESHBOOKS = "freshbooks"
    SALESFORCE = "salesforce"


class FieldCatalogue(Protocol):
    """What a validator asks about objects and fields; a live describe can answer it too."""

    def objects(self, system: System) -> Collection[str]:
        """Return the object names known on ``system``."""
        ...

    def field_problem(self, system: System, obj: str, name: str) -> str | None:
        """Return why ``obj.name`` cannot be used on ``system``, or None when it can."""
        ...


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_ADDRESS = "street street2 city province code country"
_FRESHBOOKS: Mapping[str, frozenset[str]] = {
    "client": _names(
        "id userid accounting_systemid fname lname organization email bus_phone mob_phone "
        "home_phone fax p_street p_street2 p_city p_province p_code p_country s_street s_street2 "
        "s_city s_province s_code s_country currency_code language note vis_state updated "
        "signup_date username uuid role level num_logins notified pref_email pref_gmail "
        "allow_late_fees allow_late_notifications allow_email_include_pdf vat_name vat_number "
        "company_industry company_size subdomain statement_token direct_link_token last_activity "
        "last_login has_retainer retainer_id outstanding_balance credit_balance draft_balance "
        "overdue_balance grand_total_balance"
    ),
    "invoice": _names(
        "id invoiceid accountid accounting_systemid invoice_number customerid create_date "
        "due_offset_days due_date created_at updated version currency_code language amount "
        "outstanding paid discount_total net_paid_amount discount_value discount_description "
        "deposit_amount deposit_percentage deposit_status status v3_status payment_status "
        "display_status date_paid auto_bill autobill_status last_order_status fname lname "
        "organization current_organization email address vat_name vat_number po_number terms "
        f"notes description template ownerid sentid estimateid basecampid parent ext_archive "
        f"show_attachments gmail return_uri fulfillment_date generation_date dispute_status "
        f"payment_details uuid vis_state presentation lines {_ADDRESS}"
    ),
    "line": _names(
        "lineid invoiceid taskno expenseid retainer_id retainer_period_id modern_project_id "
        "modern_time_entries type name description qty unit_cost amount taxName1 taxName2 "
        "taxAmount1 taxAmount2 taxNumber1 taxNumber2 compounded_tax date updated"
    ),
    "payment": _names(
        "id logid invoiceid clientid accounting_systemid amount date type note from_credit "
        "creditid overpaymentid orderid transactionid gateway bulk_paymentid "
        "send_client_notification updated vis_state"
    ),
    # Computed by the payments flow from an invoice's payment records (not a FreshBooks object).
    "payment_summary": _names(
        "invoiceid clientid currency_code amount_paid balance status last_payment_date "
        "payment_count"
    ),
}

_SYSTEM_FIELDS = (
    "Id IsDeleted CreatedDate CreatedById LastModifiedDate LastModifiedById SystemModstamp"
)
_SALESFORCE: Mapping[str, frozenset[str]] = {
    "Account": _names(
        f"{_SYSTEM_FIELDS} Name Type ParentId BillingStreet BillingCity BillingState "
        "BillingPostalCode BillingCountry BillingStateCode BillingCountryCode BillingAddress "
        "ShippingStreet ShippingCity ShippingState ShippingPostalCode ShippingCountry "
        "ShippingStateCode ShippingCountryCode ShippingAddress Phone Fax Website Industry "
        "AnnualRevenue NumberOfEmployees Description OwnerId AccountNumber CurrencyIsoCode "
        "FreshBooks_Client_Id__c"
    ),
    "Contact": _names(
        f"{_SYSTEM_FIELDS} AccountId Salutation FirstName LastName Name Email Phone MobilePhone "
        "HomePhone Fax Title Department MailingStreet MailingCity MailingState MailingPostalCode "
        "MailingCountry MailingStateCode MailingCountryCode MailingAddress Description OwnerId "
        "HasOptedOutOfEmail CurrencyIsoCode"
    ),
    "Opportunity": _names(
        f"{_SYSTEM_FIELDS} Name AccountId ContactId StageName CloseDate Amount Probability "
        "IsWon IsClosed Pricebook2Id HasOpportunityLineItem Type LeadSource NextStep "
        "Description OwnerId ForecastCategoryName CurrencyIsoCode FreshBooks_Invoice_Id__c "
        "FreshBooks_Invoice_Number__c FreshBooks_Invoice_Url__c FreshBooks_Payment_Status__c "
        "FreshBooks_Amount_Paid__c FreshBooks_Balance__c FreshBooks_Last_Payment_Date__c"
    ),
    "OpportunityLineItem": _names(
        f"{_SYSTEM_FIELDS} OpportunityId PricebookEntryId Product2Id Quantity UnitPrice "
        "TotalPrice ListPrice Discount Description Name ProductCode ServiceDate SortOrder "
        "CurrencyIsoCode"
    ),
    "Order": _names(
        f"{_SYSTEM_FIELDS} AccountId EffectiveDate EndDate Status StatusCode Pricebook2Id "
        "OpportunityId ContractId OrderNumber TotalAmount Description Name Type OwnerId "
        "BillingStreet BillingCity BillingState BillingPostalCode BillingCountry "
        "CurrencyIsoCode"
    ),
    "OrderItem": _names(
        f"{_SYSTEM_FIELDS} OrderId PricebookEntryId Product2Id Quantity UnitPrice ListPrice "
        "TotalPrice ServiceDate EndDate Description CurrencyIsoCode"
    ),
    # The custom objects of the shipped mirror maps (docs/salesforce/objects): their own
    # fields end in __c, so only the standard ones are listed.
    "FreshBooks_Invoice__c": _names(f"{_SYSTEM_FIELDS} Name OwnerId"),
    "FreshBooks_Invoice_Line__c": _names(f"{_SYSTEM_FIELDS} Name"),
    "FreshBooks_Payment__c": _names(f"{_SYSTEM_FIELDS} Name OwnerId"),
}
_CUSTOM_OBJECT = _names(f"{_SYSTEM_FIELDS} Name OwnerId")


class ShippedCatalogue:
    """The standard fields documented in docs/mapping.md, plus any Salesforce ``__c`` field."""

    def __init__(
        self,
        freshbooks: Mapping[str, frozenset[str]] = _FRESHBOOKS,
        salesforce: Mapping[str, frozenset[str]] = _SALESFORCE,
    ) -> None:
        self._objects = {System.FRESHBOOKS: freshbooks, System.SALESFORCE: salesforce}

    def objects(self, system: System) -> Collection[str]:
        return self._objects[system].keys()

    def fields(self, system: System, obj: str) -> frozenset[str]:
        """Return the standard fields of ``obj`` (empty for an unknown object)."""
        return self._objects[system].get(obj, frozenset())

    def field_problem(self, system: System, obj: str, name: str) -> str | None:
        known = self._objects[system].get(obj)
        if known is None and system is System.SALESFORCE and obj.endswith("__c"):
            known = _CUSTOM_OBJECT  # any custom object: its standard fields and any __c
        if known is None:
            hint = did_you_mean(obj, self.objects(system))
            return f"unknown {system.value} object {obj!r}{hint}"
        if name in known or (system is System.SALESFORCE and name.endswith("__c")):
            return None
        hint = did_you_mean(name, known)
        custom = " (Salesforce custom fields end in __c)" if system is System.SALESFORCE else ""
        return f"unknown {system.value} field {obj}.{name}{hint or custom}"


SHIPPED_CATALOGUE = ShippedCatalogue()
