"""Alembic migrations of the memory database (applied by `bot.memory.db.init_db` at start-up)."""
