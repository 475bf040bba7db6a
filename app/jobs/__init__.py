"""Plain functions a scheduler (RQ, cron) calls with the Flask app."""
