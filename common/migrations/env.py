"""Alembic environment: migrations run on the connection that common.storage.migrate_database
passes in (the service's own engine), or on MADOGUCHI_DATABASE_URL from the alembic CLI."""

from alembic import context
from sqlalchemy import create_engine

from common.settings import get_settings

connection = context.config.attributes.get("connection")
if connection is None:
    engine = create_engine(get_settings().database_url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
