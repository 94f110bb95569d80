"""Where alerts go: a Slack-compatible incoming webhook and SMTP e-mail.

A channel sends one :class:`Notice` and raises :class:`DeliveryError` when it could not; the
error names the channel and the failure, never the webhook address or a password. The webhook
client takes an injectable transport, as every other HTTP client here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING, Literal, Protocol

import aiosmtplib
import httpx

from freshforce.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import SecretStr

    from freshforce.settings import Settings

__all__ = [
    "Channel",
    "DeliveryError",
    "EmailChannel",
    "Notice",
    "SlackChannel",
    "channels_from_settings",
]


class DeliveryError(Exception):
    """A channel could not deliver a notice; the message is safe to log."""


@dataclass(frozen=True)
class Notice:
    """What a person is told: one alert opening, or the notice that it is over."""

    alert_id: int
    severity: str
    kind: str
    message: str
    at: str
    connection_id: str | None = None
    resolved: bool = False
    dashboard_url: str = ""

    @property
    def title(self) -> str:
        state = "RESOLVED" if self.resolved else self.severity.upper()
        return f"[freshforce] {state} {self.kind}"

    @property
    def text(self) -> str:
        lines = [f"{self.title}: {self.message}", f"at {self.at}"]
        if self.connection_id:
            lines.append(f"connection {self.connection_id}")
        if self.dashboard_url:
            lines.append(f"{self.dashboard_url}/alerts")
        return "\n".join(lines)


class Channel(Protocol):
    """Something that delivers notices."""

    @property
    def name(self) -> str: ...

    async def send(self, notice: Notice) -> None: ...


@dataclass(frozen=True)
class SlackChannel:
    """A Slack-compatible incoming webhook: a JSON POST of ``{"text": ...}``."""

    url: SecretStr
    transport: httpx.AsyncBaseTransport | None = None
    timeout: float = 10.0
    name: str = "slack"

    async def send(self, notice: Notice) -> None:
        body = {"text": notice.text}
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout) as client:
                answer = await client.post(self.url.get_secret_value(), json=body)
        except httpx.HTTPError as exc:
            msg = f"slack webhook: {type(exc).__name__}"
            raise DeliveryError(msg) from None
        if answer.is_error:
            msg = f"slack webhook answered {answer.status_code}"
            raise DeliveryError(msg)


@dataclass(frozen=True)
class EmailChannel:
    """SMTP e-mail to ``recipients`` (STARTTLS, implicit TLS, or plain for a local relay)."""

    host: str
    port: int
    sender: str
    recipients: Sequence[str]
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    password: SecretStr | None = field(default=None, repr=False)
    timeout: float = 30.0
    name: str = "email"

    async def send(self, notice: Notice) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["Subject"] = f"{notice.title}: {notice.message}"[:200]
        message.set_content(notice.text)
        password = self.password.get_secret_value() if self.password else None
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username or None,
                password=password if self.username else None,
                use_tls=self.security == "tls",
                start_tls=self.security == "starttls",
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            msg = f"smtp {self.host}:{self.port}: {type(exc).__name__}"
            raise DeliveryError(msg) from None


def channels_from_settings(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> list[Channel]:
    """Return the channels the settings configure (none: alerts only show on the dashboard).

    Raise :class:`ConfigError` for an SMTP server without a sender or recipients.
    """
    found: list[Channel] = []
    if settings.alert_slack_webhook_url.get_secret_value():
        found.append(SlackChannel(settings.alert_slack_webhook_url, transport=transport))
    if settings.alert_smtp_host:
        if not (settings.alert_smtp_from and settings.alert_smtp_to):
            msg = (
                "settings: alert_smtp_host needs alert_smtp_from and alert_smtp_to "
                "(FRESHFORCE_ALERT_SMTP_FROM, FRESHFORCE_ALERT_SMTP_TO, comma-separated)"
            )
            raise ConfigError(msg)
        found.append(
            EmailChannel(
                host=settings.alert_smtp_host,
                port=settings.alert_smtp_port,
                sender=settings.alert_smtp_from,
                recipients=tuple(settings.alert_smtp_to),
                security=settings.alert_smtp_security,
                username=settings.alert_smtp_username,
                password=settings.alert_smtp_password,
            )
        )
    return found
