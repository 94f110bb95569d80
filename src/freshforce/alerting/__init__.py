"""Alerting: rules evaluated on a timer, delivered to a Slack-style webhook and e-mail."""

from freshforce.alerting.channels import (
    Channel,
    DeliveryError,
    EmailChannel,
    Notice,
    SlackChannel,
    channels_from_settings,
)
from freshforce.alerting.deliver import Deliveries, deliver_alerts
from freshforce.alerting.evaluate import AlertChanges, evaluate_alerts
from freshforce.alerting.loop import AlertTimer
from freshforce.alerting.rules import DEFAULT_RULES, AlertRule, RuleKind, load_rules

__all__ = [
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
