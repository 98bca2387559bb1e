"""A bare ingestion server: the floor leadgate's ``POST /v1/batch`` is measured against.

It accepts the bodies leadgate accepts (``{"batch": [...]}``, the write key as the HTTP
Basic user name or as ``writeKey`` in the body, optionally gzip) and does only what any
ingest has to: parse the JSON with orjson, check the key, append the messages to one
SQLite table with one ``executemany`` and commit, once per request. No identities, no
scoring, no gates. The connection is set up as leadgate sets up SQLite
(leadgate.adapters.db.engine): WAL, ``synchronous=NORMAL``, foreign keys on, a 30 s busy
timeout, ``BEGIN IMMEDIATE`` transactions. Message ids are unique (``INSERT OR IGNORE``),
so a retried batch is not stored twice, as in leadgate's touchpoint table.

The benchmark starts it as a subprocess (``python -m benchmarks.bare_server --port P
--database FILE``, the key in ``BARE_SERVER_KEY``) on 127.0.0.1 only, under uvicorn with
the settings ``leadgate serve`` uses (one process, no access log, no server header).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import os
import sqlite3
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

KEY_VARIABLE = "BARE_SERVER_KEY"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    user_id TEXT,
    anonymous_id TEXT,
    timestamp TEXT,
    properties TEXT NOT NULL
)
"""
_INSERT = (
    "INSERT OR IGNORE INTO events (message_id, type, user_id, anonymous_id, timestamp, "
    "properties) VALUES (?, ?, ?, ?, ?, ?)"
)


def connect(path: str) -> sqlite3.Connection:
    """A connection with leadgate's SQLite pragmas; transactions are begun explicitly."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA busy_timeout=30000")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(_SCHEMA)
    return db


def _json(status: int, document: dict[str, Any]) -> Response:
    return Response(orjson.dumps(document), status, media_type="application/json")


def _error(status: int, code: str, message: str) -> Response:
    return _json(status, {"success": False, "code": code, "message": message})


def _basic_user(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        return base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return None


def _row(message: Any) -> tuple[Any, ...] | None:
    if not isinstance(message, dict) or not message.get("messageId"):
        return None
    return (
        str(message["messageId"]),
        str(message.get("type") or ""),
        message.get("userId"),
        message.get("anonymousId"),
        message.get("timestamp"),
        orjson.dumps(message.get("properties") or {}),
    )


def create_app(path: str, key: str) -> Starlette:
    """The app: ``POST /v1/batch`` and ``GET /readyz`` over one connection to ``path``.

    The write runs on the event loop (one process, one connection, SQLite's single
    writer), so nothing waits on a thread hand-off."""
    db = connect(path)
    expected = key.encode()

    async def batch(request: Request) -> Response:
        raw = await request.body()
        if request.headers.get("content-encoding", "").strip().lower() == "gzip":
            try:
                raw = zlib.decompress(raw, 16 + zlib.MAX_WBITS)
            except zlib.error:
                return _error(400, "invalid_gzip", "the body is not valid gzip")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(400, "invalid_json", "the body is not valid JSON")
        if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
            return _error(400, "missing_batch", "`batch` is required and must be an array")
        given = _basic_user(request.headers.get("authorization", "")) or body.get("writeKey")
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), expected):
            return _error(401, "unauthorized", "unknown write key")
        messages = body["batch"]
        rows = [row for row in map(_row, messages) if row is not None]
        db.execute("BEGIN IMMEDIATE")
        try:
            stored = db.executemany(_INSERT, rows).rowcount
            db.execute("COMMIT")
        except sqlite3.Error:
            db.execute("ROLLBACK")
            raise
        return _json(
            200,
            {
                "success": True,
                "received": len(messages),
                "accepted": len(rows),
                "stored": stored,
                "duplicates": len(rows) - stored,
            },
        )

    async def ready(_request: Request) -> Response:
        return _json(200, {"status": "ready"})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        db.close()

    return Starlette(
        routes=[Route("/v1/batch", batch, methods=["POST"]), Route("/readyz", ready)],
        lifespan=lifespan,
    )


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bare_server", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True, help="SQLite file (created if missing)")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    key = os.environ.get(KEY_VARIABLE)
    if not key:
        raise SystemExit(f"set {KEY_VARIABLE} to the write key to accept")
    uvicorn.run(
        create_app(args.database, key),
        host="127.0.0.1",
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
