"""Extension handles shared by the whole app; bound to an app in `create_app`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app
from flask_compress import Compress
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from redis import Redis
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from lumipay import settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

# What every table class inherits: `db.Model` at run time (Flask-SQLAlchemy's subclass of Base,
# with its bind and table-name handling); the type checker cannot take an instance attribute as
# a base class, so it sees the typed declarative base that `db.Model` is made from.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()

# A worker takes from the first queue with work: webhooks settle money, so they go first.
QUEUE_NAMES = ("webhooks", "bills", "bank", "default")


def redis_connection() -> Redis:
    """One Redis client per app, made on first use."""
    client = current_app.extensions.get("lumipay_redis")
    url = settings.core().redis_url
    if url is None:
        raise RuntimeError("No REDIS_URL: jobs run in-process, without Redis.")
    if client is None or current_app.extensions.get("lumipay_redis_url") != url:
        client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        current_app.extensions["lumipay_redis"] = client
        current_app.extensions["lumipay_redis_url"] = url
    return client


compress = Compress()
"""gzip, brotli or zstd for HTML, CSS, JS and JSON; PDF and CSV downloads pass as they are."""
