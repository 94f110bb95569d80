import freshforce.commands
import freshforce.store


def test_store_exports() -> None:
    assert freshforce.store.__all__ == [
        "Connection",
        "ConnectionInfo",
        "ConnectionStatus",
        "NewConnection",
        "TokenCipher",
        "Tokens",
        "UTCDateTime",
        "create_engine",
        "current",
        "head",
        "is_sqlite",
        "list_connections",
        "load_connection",
        "metadata",
        "new_key",
        "prepare_database",
        "replace_tokens",
        "rotate_keys",
        "save_connection",
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
