"""Alembic environment: migrations always run on the connection `bot.storage.migrate` hands over
(`config.attributes["connection"]`), inside its transaction; there is no alembic.ini."""

from __future__ import annotations

from alembic import context

from bot.storage.schema import VERSION_TABLE

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    # SQLite cannot ALTER most things: later migrations use batch operations (copy and move).
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
