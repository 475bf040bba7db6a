"""With REDIS_URL configured, the WeChat access token is shared through Redis."""
import redis

from app.container import container_of
from app import create_app
from tests.support import app_config, mint_code


def test_login_with_redis_shares_the_access_token(sqlite_url, keys_dir, emulator, redis_url):
    cfg = app_config(sqlite_url, keys_dir, emulator.url)
    cfg["REDIS_URL"] = redis_url
    app = create_app(cfg)
    from app.extensions import db

    with app.app_context():
        from app.services.plans import load_catalogue
        from tests.support import clean_database

        clean_database(db.engine)
        load_catalogue(db.session, app.config["PLANS_FILE"], container_of(app).clock.now())
    client = app.test_client()
    response = client.post("/api/v1/auth/login", json={"code": mint_code(emulator.url, "o-redis-1")})
    assert response.status_code == 200, response.get_json()
    keys = [k.decode() for k in redis.Redis.from_url(redis_url).scan_iter("yiqi:wechat:*")]
    assert any(k.endswith("_access_token") for k in keys), keys
    with app.app_context():
        db.engine.dispose()
