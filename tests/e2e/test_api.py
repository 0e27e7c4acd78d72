"""Sales, history, PATCH and conditional requests over real sockets to a real Hypercorn:
every new endpoint's success and errors, and bodiless answers as they are on the wire."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.utils.auth import AUTH
from tests.utils.server import Server

pytestmark = pytest.mark.slow


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def _problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == status


def _bodiless(response: httpx.Response, status: int) -> None:
    assert response.status_code == status
    assert "content-type" not in response.headers
    assert response.content == b""


def test_sale_history_patch_and_conditions_over_the_wire(live_server: Server) -> None:
    with httpx.Client(headers=AUTH, base_url=live_server.url, timeout=30) as http:
        seller, buyer = _name("s"), _name("b")
        for name in (seller, buyer):
            assert http.post("/users", json={"username": name}).status_code == 201
        car = http.post(f"/users/{seller}/cars", json={"model": "Golf"}).json()
        path = f"/cars/{car['id']}"

        got = http.get(path)
        etag = got.headers["ETag"]
        _bodiless(http.get(path, headers={"If-None-Match": etag}), 304)
        assert http.get(path, headers={"If-None-Match": etag}).headers["ETag"] == etag

        patched = http.patch(
            path,
            content=b'{"model": "Polo"}',
            headers={"Content-Type": "application/merge-patch+json", "If-Match": etag},
        )
        assert patched.status_code == 200
        assert patched.json()["model"] == "Polo"
        _problem(http.patch(path, json={"model": "Golf"}, headers={"If-Match": etag}), 412)
        _problem(http.patch(path, json={"colour": "red"}), 422)
        _problem(http.patch("/cars/2147483647", json={"model": "Polo"}), 404)

        _problem(http.post(f"{path}/sale", json={"buyer": buyer}, headers={"If-Match": etag}), 412)
        _problem(http.post(f"{path}/sale", json={"buyer": _name("ghost")}), 404)
        _problem(http.post(f"{path}/sale", json={"buyer": seller}), 409)
        _problem(http.post("/cars/2147483647/sale", json={"buyer": buyer}), 404)
        _problem(http.post(f"{path}/sale", json={"buyer": 7}), 422)
        sold = http.post(
            f"{path}/sale", json={"buyer": buyer}, headers={"If-Match": patched.headers["ETag"]}
        )
        assert sold.status_code == 200
        assert sold.headers["ETag"] == http.get(path).headers["ETag"]

        history = http.get(f"{path}/owners").json()
        assert [(p["username"], p["until"] is None) for p in history["items"]] == [
            (seller, False),
            (buyer, True),
        ]
        _problem(http.get("/cars/2147483647/owners"), 404)
        _problem(http.get(f"{path}/owners", params={"limit": 0}), 422)

        user_path = f"/users/{seller}"
        user_etag = http.get(user_path).headers["ETag"]
        _bodiless(http.get(user_path, headers={"If-None-Match": user_etag}), 304)
        role = http.patch(user_path, json={"role": "teacher"}, headers={"If-Match": user_etag})
        assert role.status_code == 200
        _problem(http.patch(_name("/users/x"), json={"role": "teacher"}), 404)
        _problem(http.patch(user_path, json={"role": "pilot"}), 422)
        _problem(http.delete(user_path, headers={"If-Match": user_etag}), 412)
        _bodiless(http.delete(user_path, headers={"If-Match": role.headers["ETag"]}), 204)

        _problem(http.delete(path, headers={"If-Match": etag}), 412)
        _bodiless(http.delete(path), 204)
        _problem(http.get(f"{path}/owners"), 404)
