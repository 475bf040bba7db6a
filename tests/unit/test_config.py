import pytest

from config import ConfigError, DevelopmentConfig, ProductionConfig, TestingConfig, load_config

REQUIRED = {
    "DATABASE_URL": "postgresql://u@h/db", "REDIS_URL": "redis://h:6379/0", "SECRET_KEY": "s" * 40,
    "PII_ENCRYPTION_KEY": "k", "PII_HASH_KEY": "h", "WECHAT_APPID": "wx1", "WECHAT_SECRET": "sec",
    "WECHAT_PAY_MCHID": "1900000001", "WECHAT_PAY_MERCHANT_SERIAL": "ABC", "WECHAT_PAY_APIV3_KEY": "k" * 32,
    "WECHAT_PAY_PLATFORM_PUBLIC_KEY_ID": "PUB_KEY_ID_1", "WECHAT_PAY_NOTIFY_URL": "https://x/notify",
    "CLAIM_DOCUMENTS_DIR": "/srv/docs",
}


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    key = tmp_path / "merchant.pem"
    key.write_text("PEM")
    monkeypatch.setenv("WECHAT_PAY_MERCHANT_KEY_PATH", str(key))
    monkeypatch.setenv("WECHAT_PAY_PLATFORM_PUBLIC_KEY_PATH", str(key))
    return monkeypatch


def test_production_reads_everything_from_the_environment(production_env):
    config = ProductionConfig()
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql://u@h/db"
    assert config.WECHAT_PAY_MERCHANT_KEY_PEM == "PEM"
    assert config.WECHAT_API_BASE == "https://api.weixin.qq.com/"


def test_production_fails_fast_naming_what_is_missing(production_env):
    production_env.delenv("SECRET_KEY")
    production_env.delenv("WECHAT_SECRET")
    with pytest.raises(ConfigError, match="SECRET_KEY, .*WECHAT_SECRET"):
        ProductionConfig()


def test_production_refuses_a_short_secret_and_an_unreadable_key(production_env, tmp_path):
    production_env.setenv("SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="at least 32"):
        ProductionConfig()
    production_env.setenv("SECRET_KEY", "s" * 40)
    production_env.setenv("WECHAT_PAY_MERCHANT_KEY_PATH", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="WECHAT_PAY_MERCHANT_KEY_PATH"):
        ProductionConfig()


def test_development_defaults_to_sqlite_and_the_emulator(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "PORT", "EMULATOR_PORT", "WECHAT_API_BASE", "WECHAT_PAY_GATEWAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path))  # no run.env there
    config = DevelopmentConfig()
    assert config.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///")
    assert config.WECHAT_API_BASE == "http://127.0.0.1:8001/"
    monkeypatch.setenv("EMULATOR_PORT", "9001")
    assert DevelopmentConfig().WECHAT_API_BASE == "http://127.0.0.1:9001/"


def test_unknown_environment_name():
    with pytest.raises(ConfigError):
        load_config("staging")


def test_flask_commands_find_the_running_instance_through_run_env(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "REDIS_URL", "PORT", "EMULATOR_PORT", "WECHAT_KEYS_DIR", "WECHAT_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path))
    (tmp_path / "run.env").write_text("# written by make run\nPORT=9100\nEMULATOR_PORT=9101\n"
                                      "DATABASE_URL=postgresql://postgres@127.0.0.1/yiqi\nREDIS_URL=redis://127.0.0.1:6379/3\n"
                                      "SECRET_KEY=never-read-from-here\n")
    config = DevelopmentConfig()
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql://postgres@127.0.0.1/yiqi"
    assert config.REDIS_URL == "redis://127.0.0.1:6379/3"
    assert config.WECHAT_API_BASE == "http://127.0.0.1:9101/"
    assert config.WECHAT_PAY_NOTIFY_URL == "http://127.0.0.1:9100/api/v1/payments/wechat/notify"
    assert config.WECHAT_KEYS_DIR == str(tmp_path / "wechat-keys")
    assert config.SECRET_KEY == DevelopmentConfig.SECRET_KEY  # only the instance's settings are read
    assert config.SCHEDULE_SECONDS["notifications.dispatch"] == 5
    monkeypatch.setenv("PORT", "9200")  # the environment wins over the file
    monkeypatch.setenv("REDIS_URL", "")  # even set empty: no Redis, whatever the file says
    overridden = DevelopmentConfig()
    assert overridden.WECHAT_PAY_NOTIFY_URL == "http://127.0.0.1:9200/api/v1/payments/wechat/notify"
    assert overridden.REDIS_URL is None
    testing = TestingConfig()  # tests never pick up a developer's running instance
    assert testing.REDIS_URL is None and testing.WECHAT_API_BASE == "http://127.0.0.1:8001/"
    assert testing.SCHEDULE_SECONDS == {}
