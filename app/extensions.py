"""Extensions, created unbound here and bound to an app in create_app()."""
from __future__ import annotations

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import BigInteger, Integer, MetaData
from sqlalchemy.orm import DeclarativeBase, registry

from app.queues import Queues

# Named constraints so Alembic can alter them on every database (SQLite batch mode included).
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base: named constraints; ints are 64-bit (money in minor units needs it).

    SQLite keeps INTEGER (already 64-bit) so that integer primary keys stay rowid aliases.
    """

    registry = registry(
        metadata=MetaData(naming_convention=NAMING),
        type_annotation_map={int: BigInteger().with_variant(Integer, "sqlite")},
    )


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()  # request.htmx; app/htmx_pages.py answers partial or page with it
queues = Queues()
