"""The engine options that let a request survive connections killed while idle in the pool."""

from portal.config import load_config


def test_postgres_connections_are_pinged_on_checkout_and_recycled_before_idle_timeouts():
    options = load_config({"DATABASE_URL": "postgres://portal@db/portal", "SECRET_KEY": "x"})["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options == {"pool_pre_ping": True, "pool_recycle": 1800}


def test_sqlite_connections_are_pinged_but_not_recycled():
    options = load_config({"DATABASE_URL": "sqlite://", "SECRET_KEY": "x"})["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options == {"pool_pre_ping": True}
