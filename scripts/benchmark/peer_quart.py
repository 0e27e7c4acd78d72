"""A benchmark peer: the same endpoints on bare Quart + SQLAlchemy Core + asyncpg, served by
the same Hypercorn: the design's stack with nothing added (no validation library, logs,
metrics or auth), the floor that everything best_app adds is measured against.

Written the way Quart's and SQLAlchemy's docs write it: the engine created in
`before_serving` and disposed in `after_serving`, Core statements, `engine.connect()` for a
read and `engine.begin()` for a write, dicts returned as JSON. Not part of the package.

    PEER_DATABASE_URL=postgresql+asyncpg://... hypercorn -k uvloop scripts.benchmark.peer_quart:app
"""

from __future__ import annotations

import os
from typing import Any

from quart import Quart, request
from sqlalchemy import bindparam, column, func, insert, select, table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

users = table("users", column("id"), column("username"), column("role"), column("created_at"))
cars = table("cars", column("id"), column("model"), column("owner_id"))
ownerships = table(
    "ownerships", column("car_id"), column("owner_id"), column("username"), column("since")
)

USER = select(users).where(users.c.username == bindparam("username"))
CARS = (
    select(cars.c.id, cars.c.model, cars.c.owner_id)
    .join(users, users.c.id == cars.c.owner_id)
    .where(users.c.username == bindparam("username"))
    .order_by(cars.c.id)
    .limit(50)
)
REGISTER = (
    pg_insert(users)
    .values(username=bindparam("username"))
    .on_conflict_do_nothing(index_elements=["username"])
)
NEW_CAR = (
    insert(cars)
    .from_select(
        ["model", "owner_id"],
        select(bindparam("model"), users.c.id).where(users.c.username == bindparam("username")),
    )
    .returning(cars.c.id, cars.c.model, cars.c.owner_id)
)
FIRST_PERIOD = insert(ownerships).values(
    car_id=bindparam("car_id"),
    owner_id=bindparam("owner_id"),
    username=bindparam("username"),
    since=func.now(),
)

app = Quart(__name__)
engine: AsyncEngine | None = None


@app.before_serving
async def connect() -> None:
    global engine  # one engine per worker, made where the docs make it
    engine = create_async_engine(os.environ["PEER_DATABASE_URL"], pool_size=20, max_overflow=0)


@app.after_serving
async def disconnect() -> None:
    if engine is not None:
        await engine.dispose()


def _engine() -> AsyncEngine:
    assert engine is not None
    return engine


def _user(row: Any) -> dict[str, Any]:
    return {**row, "created_at": row["created_at"].isoformat()}


@app.get("/hello/say")
async def say_hello() -> str:
    return "Hello XY!"


@app.get("/users/<username>")
async def get_user(username: str) -> Any:
    async with _engine().connect() as conn:
        row = (await conn.execute(USER, {"username": username})).mappings().first()
    return (_user(row), 200) if row else ({"detail": "no such user"}, 404)


@app.get("/users/<username>/cars")
async def get_user_cars(username: str) -> Any:
    async with _engine().connect() as conn:
        rows = (await conn.execute(CARS, {"username": username})).mappings().all()
    items = [{"id": r["id"], "model": r["model"], "owner": r["owner_id"]} for r in rows]
    return {"items": items, "next": None}


@app.post("/users")
async def register() -> Any:
    username = (await request.get_json())["username"]
    async with _engine().connect() as conn:
        row = (await conn.execute(USER, {"username": username})).mappings().first()
    if row is not None:
        return _user(row), 200
    async with _engine().begin() as conn:
        await conn.execute(REGISTER, {"username": username})
        row = (await conn.execute(USER, {"username": username})).mappings().one()
    return _user(row), 201


@app.post("/users/<username>/cars")
async def buy_car(username: str) -> Any:
    model = (await request.get_json())["model"]
    async with _engine().begin() as conn:
        car = (await conn.execute(NEW_CAR, {"model": model, "username": username})).mappings()
        row = car.first()
        if row is None:
            return {"detail": "no such user"}, 404
        params = {"car_id": row["id"], "owner_id": row["owner_id"], "username": username}
        await conn.execute(FIRST_PERIOD, params)
    return {"id": row["id"], "model": row["model"], "owner": row["owner_id"]}, 201
