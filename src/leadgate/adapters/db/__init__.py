"""Relational storage through SQLAlchemy 2 Core: SQLite by default, PostgreSQL in production."""
