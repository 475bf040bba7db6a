"""The console's pages, one module per screen; importing this module registers every route. Each
screen reads through app.services.console_queries (or the service the API uses) and acts through
the very service functions the admin API calls: no rule is written in the console."""
from __future__ import annotations

from . import audit, auth, claims, members, money, runs  # noqa: F401  (routes)
