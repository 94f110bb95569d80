import freshforce.connectors.salesforce as sf


def test_salesforce_connector_exports() -> None:
    assert sf.__all__ == [
        "BULK_THRESHOLD",
        "CALL_CLIENT",
        "BudgetSnapshot",
        "BulkJobError",
        "BulkPolicy",
        "CdcConfig",
        "CdcSubscriber",
        "Fallback",
        "Governor",
        "GovernorConfig",
        "LeaseLostError",
        "LocatorLostError",
        "PollTarget",
        "Priority",
        "SalesforceClient",
        "SalesforceOrg",
        "SalesforcePoller",
        "WriteResult",
        "map_salesforce_error",
        "to_18",
    ]
    for name in sf.__all__:
        assert getattr(sf, name) is not None
