"""The wind-down's WeChat call pacing: at most N calls in a wall-clock second, waiting for the next
second when the budget is spent (time injected: no test sleeps)."""
from app.jobs.wind_down import Pacer


class FakeTime:
    def __init__(self, start: float):
        self.now, self.slept = start, []

    def wall(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_three_calls_a_second_then_the_next_second():
    clock = FakeTime(100.25)
    pace = Pacer(3, wall=clock.wall, sleep=clock.sleep)
    for _ in range(3):
        pace()
    assert clock.slept == []
    pace()  # the fourth waits for second 101
    assert clock.slept == [0.75] and int(clock.now) == 101
    pace()
    pace()
    assert clock.slept == [0.75]


class FakeRedisPipeline:
    def __init__(self, store):
        self.store, self.ops = store, []

    def incr(self, name):
        self.ops.append(name)

    def expire(self, name, seconds):
        pass

    def execute(self):
        name = self.ops.pop()
        self.store[name] = self.store.get(name, 0) + 1
        return [self.store[name], True]


class FakeRedis:
    def __init__(self):
        self.store = {}

    def pipeline(self):
        return FakeRedisPipeline(self.store)


def test_the_budget_is_shared_through_redis_by_every_worker():
    redis, clock = FakeRedis(), FakeTime(7.0)
    first = Pacer(2, redis, wall=clock.wall, sleep=clock.sleep)
    second = Pacer(2, redis, wall=clock.wall, sleep=clock.sleep)
    first()
    second()
    assert clock.slept == []
    first()  # the second's call counted against the same second
    assert clock.slept == [1.0] and redis.store == {"yiqi:wind_down:calls:7": 3, "yiqi:wind_down:calls:8": 1}
