import freshforce.commands
import freshforce.connectors
import freshforce.connectors.core
import freshforce.connectors.freshbooks
import freshforce.intake
import freshforce.store


def test_store_exports() -> None:
    assert freshforce.store.__all__ == [
        "Alert",
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
        "release_lease",
        "renew_lease",
        "replace_tokens",
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


def test_intake_exports() -> None:
    assert freshforce.intake.__all__ == [
        "Batch",
        "CdcConfig",
        "CdcSubscriber",
        "Cursor",
        "Fallback",
        "FreshBooksPoller",
        "LeaseKeeper",
        "PollResult",
        "PollTarget",
        "PollerConfig",
        "SalesforcePoller",
        "Stream",
        "WebhookOutcome",
        "WebhookResult",
        "commit",
        "receive_freshbooks",
    ]
    for name in freshforce.intake.__all__:
        assert getattr(freshforce.intake, name) is not None
