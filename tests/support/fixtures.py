"""Fixtures beyond the app/client/runner trio, registered for every test by tests/conftest.py (an explicit
import of them keeps working but is not needed)."""
from __future__ import annotations

import pytest

from tests.support.api import login


@pytest.fixture
def alice(client, emulator):
    """A member's Authorization header (openid o-alice)."""
    return login(client, emulator.url, "o-alice")


@pytest.fixture
def bob(client, emulator):
    """Another member's Authorization header (openid o-bob)."""
    return login(client, emulator.url, "o-bob")
