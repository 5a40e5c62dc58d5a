"""Scratch PostgreSQL databases for benchmarks: made, migrated, and dropped afterwards."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

from booking import migrate
from booking.database import make_engine, normalise_url


@contextmanager
def scratch_database(server_url: str) -> Iterator[str]:
    """A new empty database on the server, migrated, dropped WITH (FORCE) when the block ends."""
    admin = create_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT")
    name = f"kerbside_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = server_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = make_engine(url, pool_size=2)
        migrate.upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
