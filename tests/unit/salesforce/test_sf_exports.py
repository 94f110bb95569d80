import freshforce.connectors.salesforce as sf


def test_salesforce_connector_exports() -> None:
    assert sf.__all__ == [
        "BULK_THRESHOLD",
        "CALL_CLIENT",
        "BudgetSnapshot",
        "BulkJobError",
        "BulkPolicy",
        "Governor",
        "GovernorConfig",
        "LocatorLostError",
        "Priority",
        "PubSubClient",
        "Received",
        "SalesforceClient",
        "SalesforceOrg",
        "WriteResult",
        "map_salesforce_error",
        "to_18",
    ]
    for name in sf.__all__:
        assert getattr(sf, name) is not None
