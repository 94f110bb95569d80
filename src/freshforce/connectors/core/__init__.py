"""The connectors' shared HTTP core: client factory, retry policy, executor, call counter."""

from freshforce.connectors.core.api import ApiClient, ErrorMapper, Sleep
from freshforce.connectors.core.calls import CallCounter
from freshforce.connectors.core.http import HttpSettings, build_http_client
from freshforce.connectors.core.retry import CallRetryPolicy, retry_after_seconds

__all__ = [
    "ApiClient",
    "CallCounter",
    "CallRetryPolicy",
    "ErrorMapper",
    "HttpSettings",
    "Sleep",
    "build_http_client",
    "retry_after_seconds",
]
