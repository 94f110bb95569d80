"""FastAPI app: webhook intake, OAuth callbacks, dashboard, JSON API, metrics."""
