"""The benchmark baseline: best_app's endpoints written the seed's way.

Flask app factory, Flask-SQLAlchemy models with the seed's methods, psycopg2, served by
waitress with its defaults. Not part of the package: it exists to be measured against.

    waitress-serve --port 8001 --call scripts.benchmark.seed_stack:create_app
"""

from __future__ import annotations

import datetime as dt
import os

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(64), unique=True, nullable=False)
    created_at = db.Column(db.Date, nullable=False, default=dt.date.today)
    role = db.Column(db.String(16), default="employee")

    def register_user_if_not_exist(self) -> bool:
        db_user = User.query.filter(User.username == self.username).all()
        if not db_user:
            db.session.add(self)
            db.session.commit()
        return True

    @staticmethod
    def get_by_username(username: str) -> User | None:
        user: User | None = User.query.filter(User.username == username).first()  # seed's style
        return user

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
        }


class Car(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "cars"
    id = db.Column(db.Integer, primary_key=True)
    model = db.Column(db.String(128), nullable=False)
    owner_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "model": self.model, "owner": self.owner_id}

    def buy_car(self) -> bool:
        db.session.add(self)
        db.session.commit()
        return True

    @staticmethod
    def get_user_cars(user_id: int) -> list[dict[str, object]]:
        records = Car.query.filter(Car.owner_id == user_id).order_by(Car.id).limit(50).all()
        return [record.to_dict() for record in records]


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=os.environ["SEED_DATABASE_URL"],
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
        MY_ENV_VAR="XY",
    )
    db.init_app(app)

    @app.get("/hello/say")
    def say_hello() -> str:
        return "Hello {}!".format(app.config["MY_ENV_VAR"])

    @app.post("/users")
    def create_user():  # type: ignore[no-untyped-def]
        data = request.get_json()
        user = User(username=data["username"], role=data.get("role", "employee"))
        existing = User.get_by_username(user.username)
        if existing is not None:
            return jsonify(existing.to_dict()), 200
        user.register_user_if_not_exist()
        return jsonify(user.to_dict()), 201

    @app.get("/users/<username>")
    def get_user(username: str):  # type: ignore[no-untyped-def]
        user = User.get_by_username(username)
        if user is None:
            return jsonify({"error": "not found"}), 404
        return jsonify(user.to_dict())

    @app.get("/users/<username>/cars")
    def user_cars(username: str):  # type: ignore[no-untyped-def]
        user = User.get_by_username(username)
        if user is None:
            return jsonify({"error": "not found"}), 404
        return jsonify({"items": Car.get_user_cars(user.id), "next": None})

    @app.post("/users/<username>/cars")
    def buy(username: str):  # type: ignore[no-untyped-def]
        user = User.get_by_username(username)
        if user is None:
            return jsonify({"error": "not found"}), 404
        car = Car(model=request.get_json()["model"], owner_id=user.id)
        car.buy_car()
        return jsonify(car.to_dict()), 201

    return app
