import threading

from app.container import Container
from config import TestingConfig as SettingsForTests


def test_mini_program_with_redis_does_not_deadlock_the_container():
    """mini_program's factory asks for redis (its token storage) while the container is building it."""
    cfg = SettingsForTests().as_dict()
    cfg.update(REDIS_URL="redis://127.0.0.1:1/0", WECHAT_APPID="wx-test", WECHAT_SECRET="s")
    container = Container(config=cfg)
    built = []
    worker = threading.Thread(target=lambda: built.append(container.mini_program), daemon=True)
    worker.start()
    worker.join(timeout=5)
    assert built and built[0] is container.mini_program
