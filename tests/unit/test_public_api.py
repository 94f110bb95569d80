import subprocess
import sys

import freshforce.commands
import freshforce.connectors
import freshforce.connectors.core
import freshforce.connectors.freshbooks
import freshforce.intake
import freshforce.mapping
import freshforce.store


def test_store_exports() -> None:
    assert freshforce.store.__all__ == [
        "Alert",
        "AlertKind",
        "Connection",
        "ConnectionInfo",
        "ConnectionStatus",
        "NewConnection",
        "NewEvent",
        "TokenCipher",
        "Tokens",
        "UTCDateTime",
        "acquire_lease",
        "create_engine",
        "current",
        "head",
        "is_sqlite",
        "lease_holder",
        "list_alerts",
        "list_connections",
        "load_connection",
        "load_cursor",
        "lock_connection",
        "metadata",
        "new_key",
        "prepare_database",
        "raise_alert",
        "record_events",
        "refresh_lock",
        "release_lease",
        "renew_lease",
        "replace_tokens",
        "resolve_alerts",
        "rotate_keys",
        "save_connection",
        "save_cursor",
        "set_status",
        "upgrade",
    ]
    for name in freshforce.store.__all__:
        assert getattr(freshforce.store, name) is not None


def test_commands_exports() -> None:
    assert freshforce.commands.__all__ == [
        "CliContext",
        "cli_context",
        "config_app",
        "db_app",
        "jobs",
        "run",
        "worker",
    ]


def test_connectors_exports() -> None:
    assert freshforce.connectors.__all__ == [
        "AuthorizationRequest",
        "BearerAuth",
        "OAuthProvider",
        "TokenGrant",
        "TokenSource",
        "connection_from_grant",
        "exchange_code",
        "provider_for",
        "refresh_grant",
        "start_authorization",
    ]
    assert freshforce.connectors.core.__all__ == [
        "ApiClient",
        "CallCounter",
        "CallRetryPolicy",
        "ErrorMapper",
        "HttpSettings",
        "Sleep",
        "build_http_client",
        "retry_after_seconds",
    ]
    assert "FreshBooksPoller" not in freshforce.connectors.freshbooks.__all__  # in intake
    assert "verify_signature" in freshforce.connectors.freshbooks.__all__
    for module in (
        freshforce.connectors,
        freshforce.connectors.core,
        freshforce.connectors.freshbooks,
    ):
        for name in module.__all__:
            assert getattr(module, name) is not None


def test_mapping_exports() -> None:
    assert freshforce.mapping.__all__ == [
        "FLOWS",
        "PROFILES",
        "SHIPPED_CATALOGUE",
        "TRANSFORMS",
        "Amend",
        "DeletePolicy",
        "Direction",
        "Fail",
        "FieldCatalogue",
        "FieldComparison",
        "FieldRule",
        "FieldState",
        "FieldTrace",
        "FlowMap",
        "HookContext",
        "HookDecision",
        "HookResult",
        "LookupKey",
        "LookupResolver",
        "MapSet",
        "MappedRecord",
        "MappingConfigError",
        "MappingRecordError",
        "MatchStrategy",
        "Policy",
        "Problem",
        "Rate",
        "RateSource",
        "RateUsed",
        "Skip",
        "System",
        "check_every_profile",
        "check_maps",
        "load_maps",
        "map_records",
        "write_defaults",
    ]
    for name in freshforce.mapping.__all__:
        assert getattr(freshforce.mapping, name) is not None


def test_mapping_imports_nothing_of_the_rest() -> None:
    code = (
        "import sys, freshforce.mapping; "
        "bad = [m for m in sys.modules if m.startswith('freshforce.') and m.split('.')[1] "
        "in {'connectors', 'engine', 'intake', 'store', 'web', 'flows', 'sandbox', 'commands'}]; "
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_intake_exports() -> None:
    assert freshforce.intake.__all__ == [
        "CALLBACK_EVENTS",
        "Batch",
        "CallbackAction",
        "CdcConfig",
        "CdcSubscriber",
        "Cursor",
        "Fallback",
        "FreshBooksPoller",
        "LeaseKeeper",
        "PollResult",
        "PollTarget",
        "PollerConfig",
        "RegisteredCallback",
        "SalesforcePoller",
        "Stream",
        "WebhookOutcome",
        "WebhookResult",
        "commit",
        "receive_freshbooks",
        "register_callbacks",
        "webhook_uri",
    ]
    for name in freshforce.intake.__all__:
        assert getattr(freshforce.intake, name) is not None


def test_alerting_exports() -> None:
    import freshforce.alerting  # noqa: PLC0415 - the package under test

    assert freshforce.alerting.__all__ == [
        "DEFAULT_RULES",
        "AlertChanges",
        "AlertRule",
        "AlertTimer",
        "Channel",
        "Deliveries",
        "DeliveryError",
        "EmailChannel",
        "Notice",
        "RuleKind",
        "SlackChannel",
        "channels_from_settings",
        "deliver_alerts",
        "evaluate_alerts",
        "load_rules",
    ]
    for name in freshforce.alerting.__all__:
        assert getattr(freshforce.alerting, name) is not None


def test_environments_exports() -> None:
    import freshforce.environments  # noqa: PLC0415 - only this test needs it

    assert freshforce.environments.__all__ == [
        "ConfigWatch",
        "apply_directory",
        "current_author",
        "rollback",
        "running_maps",
        "version_maps",
    ]
    for name in freshforce.environments.__all__:
        assert getattr(freshforce.environments, name) is not None
