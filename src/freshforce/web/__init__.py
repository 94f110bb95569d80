"""FastAPI app: webhook intake, OAuth callbacks, dashboard, JSON API, metrics."""

from freshforce.web.app import create_app

__all__ = ["create_app"]
