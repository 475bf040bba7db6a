"""Entry point for gunicorn and `flask`: APP_ENV picks the settings (development by default).
Logs are JSON lines on stderr (LOG_LEVEL, default INFO)."""
import os

from app import create_app
from app.logs import configure_logging

configure_logging(os.environ.get("LOG_LEVEL") or "INFO")
app = create_app()
