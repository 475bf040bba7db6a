import datetime as dt

import pytest

from app.jobs.schedule import TASKS, configured_tasks, describe
from config import DEVELOPMENT_SCHEDULE_SECONDS


def test_development_cadences_override_the_production_ones():
    tasks = {t.name: t.every for t in configured_tasks({"SCHEDULE_SECONDS": DEVELOPMENT_SCHEDULE_SECONDS})}
    assert tasks["notifications.dispatch"] == dt.timedelta(seconds=5)
    assert set(tasks) == {t.name for t in TASKS}
    assert configured_tasks({}) == TASKS
    assert describe(configured_tasks({})).startswith("notifications.dispatch every 1 min, payments.reconcile every 5 min")


def test_a_misspelt_task_is_refused():
    with pytest.raises(ValueError, match="notification.dispatch"):
        configured_tasks({"SCHEDULE_SECONDS": {"notification.dispatch": 5}})
