"""The two store back ends behind one test interface: make a store, look at its tables.

Each PostgreSQL test gets a schema of its own in the session's throwaway server
(conftest.postgres_url), dropped afterwards; each SQLite test a file in its temp dir.
"""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg

from bot.store import PostgresStore, SqliteStore

BACKENDS = ("sqlite", "postgresql")


class SqliteBackend:
    name = "sqlite"

    def __init__(self, path: Path):
        self.path = path

    def make(self, **options: Any) -> SqliteStore:
        return SqliteStore(self.path, **options)

    def rows(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.path)) as connection, connection:
            return connection.execute(sql, params).fetchall()

    def drop(self) -> None:
        pass


class PostgresBackend:
    name = "postgresql"

    def __init__(self, url: str):
        self.url = url
        self.schema = f"test_{uuid.uuid4().hex[:12]}"

    def make(self, **options: Any) -> PostgresStore:
        return PostgresStore(self.url, schema=self.schema, **options)

    def rows(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, options=f"-c search_path={self.schema}") as connection:
            cursor = connection.execute(  # type: ignore[call-overload]
                sql.replace("?", "%s"), params or None)
            return cursor.fetchall() if cursor.description else []

    def drop(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")  # type: ignore[arg-type]


Backend = SqliteBackend | PostgresBackend
