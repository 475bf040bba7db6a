import pytest
from flask import g


@pytest.fixture(autouse=True)
def fresh_g_per_request(app):
    """The `app` fixture keeps one app context open for the whole test, so `g` outlives each request
    (in a server every request has its own). Flask-WTF caches the CSRF token in `g`: without this,
    one test client's token would be handed to the next request of another client."""

    @app.before_request
    def forget_cached_csrf_token():
        g.pop(app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def pytest_terminal_summary(terminalreporter):
    """Name the screenshot folders in the log (CI keeps the output, the folders are git-ignored)."""
    from .browser_support import WRITTEN

    if WRITTEN:
        terminalreporter.write_sep("-", "console screenshots")
        for folder in WRITTEN:
            terminalreporter.write_line(f"{folder} ({len(list(folder.glob('*.png')))} screens)")
