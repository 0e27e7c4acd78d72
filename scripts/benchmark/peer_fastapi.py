"""A benchmark peer: the same endpoints as FastAPI's documentation writes them, on SQLAlchemy
asyncio, served by Uvicorn: what a user would pick instead of best_app.

Written the way FastAPI's docs and its full-stack template write an app: declarative models,
one `AsyncSession` per request through a dependency, pydantic response models, the engine
created in the lifespan. No auth, logs or metrics beyond Uvicorn's own. Not part of the
package.

    PEER_DATABASE_URL=postgresql+asyncpg://... uvicorn scripts.benchmark.peer_fastapi:app
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import ForeignKey, String, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16), server_default="employee")
    created_at: Mapped[dt.date] = mapped_column(server_default=func.current_date())


class Car(Base):
    __tablename__ = "cars"
    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(128))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class Ownership(Base):
    __tablename__ = "ownerships"
    id: Mapped[int] = mapped_column(primary_key=True)
    car_id: Mapped[int] = mapped_column(ForeignKey("cars.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64))
    since: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class UserCreate(BaseModel):
    username: str


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    role: str
    created_at: dt.date


class CarCreate(BaseModel):
    model: str


class CarOut(BaseModel):
    id: int
    model: str
    owner: int


class CarPage(BaseModel):
    items: list[CarOut]
    next: int | None


sessions: async_sessionmaker[AsyncSession] | None = None


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    global sessions  # the docs' module-level session factory
    engine = create_async_engine(os.environ["PEER_DATABASE_URL"], pool_size=20, max_overflow=0)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    yield
    await engine.dispose()


async def get_session() -> AsyncIterator[AsyncSession]:
    assert sessions is not None
    async with sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]
app = FastAPI(lifespan=lifespan)


@app.get("/hello/say", response_class=PlainTextResponse)
async def say_hello() -> str:
    return "Hello XY!"


@app.get("/users/{username}")
async def get_user(username: str, session: SessionDep) -> UserOut:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise HTTPException(status_code=404, detail="no such user")
    return UserOut.model_validate(user)


@app.get("/users/{username}/cars")
async def get_user_cars(username: str, session: SessionDep, limit: int = 50) -> CarPage:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise HTTPException(status_code=404, detail="no such user")
    cars = await session.scalars(
        select(Car).where(Car.owner_id == user.id).order_by(Car.id).limit(limit)
    )
    return CarPage(
        items=[CarOut(id=c.id, model=c.model, owner=c.owner_id) for c in cars], next=None
    )


@app.post("/users")
async def register(data: UserCreate, session: SessionDep, response: Response) -> UserOut:
    user = await session.scalar(select(User).where(User.username == data.username))
    if user is None:
        await session.execute(insert(User).values(username=data.username).on_conflict_do_nothing())
        await session.commit()
        user = await session.scalar(select(User).where(User.username == data.username))
        response.status_code = 201
    return UserOut.model_validate(user)


@app.post("/users/{username}/cars", status_code=201)
async def buy_car(username: str, data: CarCreate, session: SessionDep) -> CarOut:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise HTTPException(status_code=404, detail="no such user")
    car = Car(model=data.model, owner_id=user.id)
    session.add(car)
    await session.flush()
    session.add(Ownership(car_id=car.id, owner_id=user.id, username=user.username))
    await session.commit()
    return CarOut(id=car.id, model=car.model, owner=car.owner_id)
