"""Alembic has one head, and the migrated schema matches the models on both backends."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
import sqlalchemy as sa

from app.models import Base
from config import PROJECT_ROOT


def test_one_head():
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"migrations have several heads: {heads}"


def test_migrated_schema_matches_models(db_url):
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_create_app_creates_no_tables(tmp_path):
    from app import create_app
    from tests.support import app_config

    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    app = create_app(app_config(url, tmp_path / "keys", None))
    with app.app_context():
        from app.extensions import db

        assert sa.inspect(db.engine).get_table_names() == []
