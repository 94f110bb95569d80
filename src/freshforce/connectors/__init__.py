"""Clients for the two remote systems: the shared HTTP core, OAuth, and one package per vendor."""

from freshforce.connectors.oauth import (
    AuthorizationRequest,
    BearerAuth,
    OAuthProvider,
    TokenGrant,
    TokenSource,
    exchange_code,
    refresh_grant,
    start_authorization,
)
from freshforce.connectors.providers import connection_from_grant, provider_for

__all__ = [
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
