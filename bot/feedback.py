"""What users tell us: unanswered questions and 👍/👎 on answers, in SQLite.

Nothing is learned automatically: `faqbot review` shows the maintainer which
alternate questions to add to the YAML, which stays the single source of truth.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS unanswered (
    at REAL NOT NULL, question TEXT NOT NULL, best_id TEXT, score INTEGER, answered INTEGER
);
CREATE TABLE IF NOT EXISTS ratings (
    at REAL NOT NULL, passage_id TEXT NOT NULL, good INTEGER NOT NULL, question TEXT
);
"""


@dataclass(frozen=True)
class Review:
    unanswered: list[tuple[str, int, int]]  # question, times asked, best score
    worst: list[tuple[str, int, int]]  # passage id, 👎, 👍


class FeedbackStore:
    """SQLite (WAL mode), created on first use; safe to share between threads."""

    def __init__(self, path: Path):
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            self._connection = connection
        return self._connection

    def record_question(self, question: str, best_id: str, score: int, answered: bool) -> None:
        """A declined or low-confidence question."""
        with self._lock, self._db() as db:
            db.execute(
                "INSERT INTO unanswered VALUES (?, ?, ?, ?, ?)",
                (time.time(), question, best_id, score, int(answered)),
            )

    def record_rating(self, passage_id: str, good: bool, question: str = "") -> None:
        with self._lock, self._db() as db:
            db.execute(
                "INSERT INTO ratings VALUES (?, ?, ?, ?)",
                (time.time(), passage_id, int(good), question),
            )

    def review(self, limit: int = 20) -> Review:
        with self._lock:
            db = self._db()
            unanswered = db.execute(
                "SELECT question, COUNT(*) AS n, MAX(COALESCE(score, 0)) FROM unanswered "
                "GROUP BY question ORDER BY n DESC, question LIMIT ?", (limit,),
            ).fetchall()
            worst = db.execute(
                "SELECT passage_id, SUM(1 - good) AS bad, SUM(good) AS good FROM ratings "
                "GROUP BY passage_id HAVING bad > 0 ORDER BY bad - good DESC, bad DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return Review(unanswered, worst)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
