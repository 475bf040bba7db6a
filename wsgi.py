"""Entry point for gunicorn and `flask`: APP_ENV picks the settings (development by default)."""
from app import create_app

app = create_app()
