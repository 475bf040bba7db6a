"""The rules of the platform: plain Python over SQLAlchemy sessions. No Flask, no WeChat SDK:
the outside world is reached through the Protocols in ports.py.

Each public function that changes state runs in one database transaction that it
begins and ends itself (see unit_of_work.atomic); callers pass a Session and a clock."""
