"""The benchmark ceiling: the same endpoints as a framework-free ASGI app on raw asyncpg.

No routing library, no validation, no middleware: the practical limit of one Hypercorn
worker doing these queries. Not part of the package.

    hypercorn -k uvloop scripts.benchmark.ceiling:app
"""

from __future__ import annotations

import os
from typing import Any

import asyncpg
import orjson

_pool: asyncpg.Pool | None = None

USER = "SELECT id, username, role, created_at FROM users WHERE username = $1"
CARS = (
    "SELECT c.id, c.model, c.owner_id FROM users u JOIN cars c ON c.owner_id = u.id "
    "WHERE u.username = $1 ORDER BY c.id LIMIT 50"
)
REGISTER = (
    "WITH new AS (INSERT INTO users (username) VALUES ($1) ON CONFLICT (username) DO NOTHING "
    "RETURNING id, username, role, created_at) "
    "SELECT * FROM new UNION ALL SELECT id, username, role, created_at FROM users "
    "WHERE username = $1 LIMIT 1"
)
BUY = (
    "INSERT INTO cars (model, owner_id) SELECT $2, id FROM users WHERE username = $1 "
    "RETURNING id, model, owner_id"
)


def _user(row: Any) -> dict[str, Any]:
    return {"id": row[0], "username": row[1], "role": row[2], "created_at": row[3].isoformat()}


async def _send(send: Any, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _json(receive: Any) -> Any:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return orjson.loads(body)


async def app(scope: Any, receive: Any, send: Any) -> None:
    global _pool
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _pool = await asyncpg.create_pool(
                    os.environ["CEILING_DATABASE_URL"], min_size=10, max_size=20
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _pool is not None:
                    await _pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    assert _pool is not None
    path, method = scope["path"], scope["method"]
    parts = path.strip("/").split("/")
    js = b"application/json"
    if path == "/hello/say":
        await _send(send, 200, b"Hello XY!", b"text/plain; charset=utf-8")
    elif method == "GET" and len(parts) == 2 and parts[0] == "users":
        row = await _pool.fetchrow(USER, parts[1])
        await _send(send, 200 if row else 404, orjson.dumps(_user(row) if row else {}), js)
    elif method == "GET" and len(parts) == 3 and parts[2] == "cars":
        rows = await _pool.fetch(CARS, parts[1])
        items = [{"id": r[0], "model": r[1], "owner": r[2]} for r in rows]
        await _send(send, 200, orjson.dumps({"items": items, "next": None}), js)
    elif method == "POST" and path == "/users":
        row = await _pool.fetchrow(REGISTER, (await _json(receive))["username"])
        await _send(send, 200, orjson.dumps(_user(row)), js)
    elif method == "POST" and len(parts) == 3 and parts[2] == "cars":
        row = await _pool.fetchrow(BUY, parts[1], (await _json(receive))["model"])
        car = {"id": row[0], "model": row[1], "owner": row[2]}
        await _send(send, 201, orjson.dumps(car), js)
    else:
        await _send(send, 404, b"{}", js)
