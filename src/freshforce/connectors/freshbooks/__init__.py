"""The FreshBooks connector: error mapping, client, callbacks, webhook signatures and poller."""

from freshforce.connectors.freshbooks.errors import map_freshbooks_error

__all__ = ["map_freshbooks_error"]
