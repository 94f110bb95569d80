"""Settings: defaults, then a TOML/YAML file, then FRESHFORCE_* variables, then explicit overrides.

A settings file has common keys at the top level and one optional table per profile (``[dev]``,
``[qa]``, ``[prod]`` or any name, such as ``[staging]``: each table is an environment) whose keys
override the common ones when that profile is chosen. Every
mistake (unknown key, wrong type, bad profile) is reported at once, as a :class:`ConfigError`
naming the file, the line when it can be found, and the key path. Secret values never appear in
those messages.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography.fernet import Fernet
from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from freshforce.envvars import ENV_PREFIX
from freshforce.errors import ConfigError
from freshforce.settings_file import PROFILE_NAME, SettingsFile, read_settings_file

__all__ = [
    "ENV_PREFIX",
    "Profile",
    "Settings",
    "default_data_dir",
    "load_settings",
    "resolve_database_url",
]

_KEY_FILE_NAME = "secret.key"
_SECRET_FILE_MODE = 0o600
# Bounds of ``stream_lease_seconds``: renewals at least ~1.7 s apart, a takeover within an hour.
STREAM_LEASE_MIN = 5.0
STREAM_LEASE_MAX = 3600.0
# sqlite[+driver]:///<path>: three slashes then a relative path, four for an absolute one.
_SQLITE_URL = re.compile(r"^(?P<scheme>sqlite(?:\+\w+)?:///)(?P<path>[^?]*)(?P<query>\?.*)?$")


class Profile(StrEnum):
    """The profiles every install knows; a settings file section adds any other name."""

    DEV = "dev"
    QA = "qa"
    PROD = "prod"


def default_data_dir() -> Path:
    """Return ``$XDG_DATA_HOME/freshforce``, or ``~/.local/share/freshforce`` without it."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "freshforce"


# What freshforce can announce as platform events (docs/platform-events.md).
PublishedFact = Literal["invoices", "payments", "errors"]


class Settings(BaseSettings):
    """Everything freshforce can be configured with; see docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    profile: str = Field(default=Profile.DEV.value, pattern=PROFILE_NAME)
    data_dir: Path = Field(default_factory=default_data_dir)
    config_dir: Path = Path("freshforce")
    database_url: str = ""
    auto_migrate: bool = True
    encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    log_json: bool | None = None
    worker_concurrency: int = Field(default=4, ge=1, le=256)
    worker_batch_size: int = Field(default=20, ge=1, le=10_000)
    worker_poll_interval: float = Field(default=1.0, ge=0.01)
    worker_shutdown_timeout: float = Field(default=30.0, ge=0)
    worker_handlers: str = ""
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    job_lease_seconds: float = Field(default=30.0, gt=0)
    job_max_attempts: int = Field(default=10, ge=1)
    # OAuth applications and API hosts (docs/configuration.md, "Connections").
    freshbooks_client_id: str = ""
    freshbooks_client_secret: SecretStr = SecretStr("")
    freshbooks_redirect_uri: str = "http://127.0.0.1:8765/callback"
    freshbooks_api_url: str = "https://api.freshbooks.com"
    freshbooks_auth_url: str = "https://auth.freshbooks.com"
    salesforce_client_id: str = ""
    salesforce_client_secret: SecretStr = SecretStr("")
    salesforce_redirect_uri: str = "http://localhost:8765/callback"
    salesforce_login_url: str = "https://login.salesforce.com"
    salesforce_pubsub_host: str = Field(
        default="api.pubsub.salesforce.com:7443", pattern=r"^[A-Za-z0-9.\-]+:\d{1,5}$"
    )
    salesforce_pubsub_tls: bool = True
    http_timeout_seconds: float = Field(default=60.0, gt=0)
    # Intake and periodic work of `freshforce run` / `listen` (docs/operations.md, "Running").
    poll_interval_seconds: float = Field(default=60.0, gt=0)
    cdc: bool = True
    # The lease on each stream a listener reads (pollers, CDC, platform events), renewed every
    # third of it: a dead listener's streams are read again by another after at most this long.
    stream_lease_seconds: float = 60.0
    # Salesforce platform events: channels that trigger syncs, events freshforce publishes.
    platform_event_channels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    platform_event_publish: Annotated[list[PublishedFact], NoDecode] = Field(default_factory=list)
    reconcile_interval_seconds: float = Field(default=3600.0, gt=0)
    # How often a running worker looks for a newly applied configuration version.
    config_reload_seconds: float = Field(default=5.0, gt=0)
    # The dashboard (docs/operations.md, "Dashboard").
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8000, ge=0, le=65535)
    web_session_key: SecretStr = SecretStr("")
    # Where FreshBooks reaches this install's webhook route (docs/operations.md, "Webhooks").
    public_url: str = ""
    # Alerts: rules, how often they are evaluated, where they are sent (docs/operations.md).
    alerts_file: Path | None = None
    alert_interval_seconds: float = Field(default=60.0, ge=0)
    alert_slack_webhook_url: SecretStr = SecretStr("")
    alert_smtp_host: str = ""
    alert_smtp_port: int = Field(default=587, ge=1, le=65535)
    alert_smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    alert_smtp_username: str = ""
    alert_smtp_password: SecretStr = SecretStr("")
    alert_smtp_from: str = ""
    alert_smtp_to: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        del settings_cls, dotenv_settings, file_secret_settings
        return (init_settings, env_settings)

    @field_validator("data_dir", "config_dir")
    @classmethod
    def _expand_data_dir(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("alerts_file")
    @classmethod
    def _expand_alerts_file(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @field_validator(
        "alert_smtp_to", "platform_event_channels", "platform_event_publish", mode="before"
    )
    @classmethod
    def _split_recipients(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("platform_event_channels")
    @classmethod
    def _check_channels(cls, value: list[str]) -> list[str]:
        for channel in value:
            if not re.fullmatch(r"/event/[A-Za-z][A-Za-z0-9_]*__e", channel):
                msg = f"{channel!r} is not a platform event channel like /event/Name__e"
                raise ValueError(msg)
        return value

    @field_validator("stream_lease_seconds")
    @classmethod
    def _check_stream_lease(cls, value: float) -> float:
        if not STREAM_LEASE_MIN <= value <= STREAM_LEASE_MAX:
            msg = (
                f"must be within {STREAM_LEASE_MIN:g}..{STREAM_LEASE_MAX:g} seconds (the lease on "
                f"each stream, renewed every third of it), got {value:g}"
            )
            raise ValueError(msg)
        return value

    @field_validator("alert_slack_webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() and not re.match(r"^https?://\S+$", value.get_secret_value()):
            msg = "must be empty or an http(s) URL"
            raise ValueError(msg)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_log_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _check_keys(cls, value: list[SecretStr], info: ValidationInfo) -> list[SecretStr]:
        if not value and info.data.get("profile") == Profile.PROD:
            msg = (
                "the prod profile needs encryption keys; make one with `freshforce config new-key`"
            )
            raise ValueError(msg)
        for index, key in enumerate(value):
            try:
                Fernet(key.get_secret_value())
            except ValueError:
                msg = (
                    f"key #{index} is not a Fernet key (32 url-safe base64-encoded bytes); "
                    "make one with `freshforce config new-key`"
                )
                raise ValueError(msg) from None
        return value

    @field_validator(
        "freshbooks_redirect_uri",
        "freshbooks_api_url",
        "freshbooks_auth_url",
        "salesforce_redirect_uri",
        "salesforce_login_url",
    )
    @classmethod
    def _check_url(cls, value: str, info: ValidationInfo) -> str:
        if not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", value):
            msg = "must be an absolute http(s) URL without a query string"
            raise ValueError(msg)
        return value.rstrip("/") if (info.field_name or "").endswith("_url") else value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", value):
            msg = "must be empty or an absolute http(s) URL without a query string"
            raise ValueError(msg)
        return value.rstrip("/")

    @field_validator("web_session_key")
    @classmethod
    def _check_session_key(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value() and len(value.get_secret_value()) < 32:  # noqa: PLR2004
            msg = "must be at least 32 characters (make one with `openssl rand -base64 33`)"
            raise ValueError(msg)
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if value and not re.match(r"^(sqlite|postgresql|postgres)(\+\w+)?://", value):
            msg = "must start with sqlite:// or postgresql:// (optionally +driver)"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _fill_derived(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir.absolute() / 'freshforce.db'}"
        self.database_url = resolve_database_url(self.database_url, self.data_dir)
        if self.log_json is None:
            self.log_json = self.profile != Profile.DEV
        return self

    @property
    def json_logs(self) -> bool:
        """Say whether logs are JSON lines (resolved from the profile when not set)."""
        return bool(self.log_json)


def resolve_database_url(url: str, data_dir: Path) -> str:
    """Return ``url`` with a relative SQLite path made absolute under ``data_dir``.

    ``sqlite:///x.db`` means ``data_dir/x.db``, whichever directory freshforce starts in; an
    absolute path (``sqlite:////srv/x.db``), ``:memory:`` and other databases are kept as they are.
    """
    found = _SQLITE_URL.match(url)
    if found is None:
        return url
    path = found["path"]
    if not path or path.startswith(("/", ":memory:", "file:")):
        return url
    return f"{found['scheme']}{data_dir.expanduser().absolute() / path}{found['query'] or ''}"


def load_settings(
    profile: str | None = None,
    config_file: Path | None = None,
    **overrides: object,
) -> Settings:
    """Build the settings from the file, the environment and ``overrides``, in rising priority.

    Raise :class:`ConfigError` listing every problem, each with where the value came from.
    Outside prod, a missing ``encryption_keys`` is filled from ``data_dir/secret.key``, which is
    created (mode 0600) the first time. An override of ``None`` means "not given".
    """
    file = read_settings_file(config_file) if config_file is not None else None
    env = EnvSettingsSource(Settings)()
    chosen, chosen_from = _choose_profile(profile, env, file)
    layers = _Layers(
        file=file,
        profile=(chosen, chosen_from),
        env=env,
        overrides={k: v for k, v in overrides.items() if v is not None},
    )
    problems: list[str] = []
    settings = None
    try:
        settings = Settings.model_validate(layers.merged())
    except ValidationError as exc:
        problems.extend(_describe(exc, layers))
    problems.extend(_inactive_section_problems(file, chosen))
    problems.extend(_unknown_profile(chosen, chosen_from, file))
    if problems or settings is None:
        count = len(problems)
        heading = f"invalid settings ({count} error{'s' if count != 1 else ''}):\n"
        raise ConfigError(heading + "\n".join(problems))
    if not settings.encryption_keys:
        settings.encryption_keys = [_dev_key(settings.data_dir)]
    return settings


def _inactive_section_problems(file: SettingsFile | None, active: str | None) -> list[str]:
    """Check each profile section not in use, so a typo in ``[prod]`` shows up in dev too.

    Only problems with keys of that section are reported; the common keys were checked already.
    """
    if file is None:
        return []
    problems = []
    for name, section in sorted(file.sections.items()):
        if name == active or not section:
            continue
        layers = _Layers(file=file, profile=(name, "section"), env={}, overrides={})
        try:
            Settings.model_validate(layers.merged())
        except ValidationError as exc:
            problems.extend(_describe(exc, layers, only=set(section)))
    return problems


def _unknown_profile(chosen: str, origin: str, file: SettingsFile | None) -> list[str]:
    """Name a profile that is neither built in nor a section of the settings file."""
    known = {p.value for p in Profile} | set(file.sections if file is not None else ())
    if chosen in known or not re.match(PROFILE_NAME, chosen):
        return []
    hint = difflib.get_close_matches(chosen, sorted(known), n=1)
    where = f" of {file.path}" if file is not None else ""
    return [
        f"  {origin}: {chosen!r} is not a profile; choose dev, qa or prod, or add a "
        f"[{chosen}] section to the settings file{where}"
        + (f" (did you mean {hint[0]!r}?)" if hint else "")
    ]


def _choose_profile(
    explicit: str | None, env: Mapping[str, Any], file: SettingsFile | None
) -> tuple[str, str]:
    # Any: values read from the environment or a file are untyped until validated.
    if explicit is not None:
        return explicit, "option --profile (FRESHFORCE_PROFILE)"
    if "profile" in env:
        return str(env["profile"]), f"environment {ENV_PREFIX}PROFILE"
    if file is not None and "profile" in file.common:
        return str(file.common["profile"]), f"{file.where('profile', None)} profile"
    # Nothing chose one: dev, whose file section applies as it would with --profile dev.
    return Profile.DEV.value, "setting profile (default dev)"


class _Layers:
    """The raw values of each source, and which source a top-level key came from."""

    def __init__(
        self,
        *,
        file: SettingsFile | None,
        profile: tuple[str | None, str],
        env: Mapping[str, Any],
        overrides: Mapping[str, Any],
    ) -> None:
        # Any: raw source values, validated by Settings.
        self.file = file
        self.profile, self.profile_origin = profile
        self.section = file.section(self.profile) if file is not None and self.profile else {}
        self.env = env
        self.overrides = overrides

    def merged(self) -> dict[str, Any]:
        # Any: raw source values, validated by Settings.
        values: dict[str, Any] = {}
        if self.file is not None:
            values.update(self.file.common)
        values.update(self.section)
        values.update(self.env)
        values.update(self.overrides)
        if self.profile is not None:
            values["profile"] = self.profile
        return values

    def origin(self, key: str) -> str:
        if key in self.overrides:
            return f"option {key}"
        if key == "profile":
            return self.profile_origin
        if key in self.env:
            return f"environment {ENV_PREFIX}{key.upper()}"
        if self.file is not None and key in self.section:
            return f"{self.file.where(key, self.profile)} [{self.profile}] {key}"
        if self.file is not None and key in self.file.common:
            return f"{self.file.where(key, None)} {key}"
        return f"setting {key} ({ENV_PREFIX}{key.upper()})"


def _describe(exc: ValidationError, layers: _Layers, only: set[str] | None = None) -> list[str]:
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = [str(part) for part in error["loc"]]
        if only is not None and (not loc or loc[0] not in only):
            continue
        where = layers.origin(loc[0]) if loc else "settings"
        path = ".".join(loc[1:])
        suffix = f".{path}" if path else ""
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = _unknown(loc[-1])
        elif loc == ["profile"]:
            message = (
                f"{layers.profile!r} is not a profile name: lower-case letters, digits, - and _,"
                " up to 16 characters, starting with a letter"
            )
        lines.append(f"  {where}{suffix}: {message}")
    return lines


def _unknown(key: str) -> str:
    close = difflib.get_close_matches(key, Settings.model_fields, n=1)
    if close:
        return f"unknown setting (did you mean {close[0]!r}?)"
    return f"unknown setting; known: {', '.join(sorted(Settings.model_fields))}"


def _dev_key(data_dir: Path) -> SecretStr:
    path = data_dir / _KEY_FILE_NAME
    try:
        if not path.exists():
            _write_new_key(path)
        key = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{path}: cannot create or read the dev encryption key ({exc}); set encryption_keys"
        raise ConfigError(msg) from None
    try:
        Fernet(key)
    except ValueError:
        msg = f"{path}: not a Fernet key; delete it to get a new one, or set encryption_keys"
        raise ConfigError(msg) from None
    return SecretStr(key)


def _write_new_key(path: Path) -> None:
    # Written aside, then linked into place: a second process racing us finds a whole key or none.
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _SECRET_FILE_MODE)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(Fernet.generate_key())
    try:
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink()
