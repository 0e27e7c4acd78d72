"""Races over real sockets against a real Hypercorn: the database settles every one."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import uuid
from collections import Counter

import httpx
import pytest

from tests.utils.auth import AUTH
from tests.utils.server import Server

pytestmark = pytest.mark.slow


def client(server: Server) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=500)
    return httpx.AsyncClient(headers=AUTH, base_url=server.url, limits=limits, timeout=60)


async def test_200_concurrent_registrations_make_one_user(live_server: Server) -> None:
    name = f"race{uuid.uuid4().hex[:10]}"
    async with client(live_server) as http:
        responses = await asyncio.gather(
            *(http.post("/users", json={"username": name}) for _ in range(200))
        )
        statuses = Counter(r.status_code for r in responses)
        assert set(statuses) <= {200, 201}, statuses
        assert statuses[201] == 1
        assert len({r.json()["id"] for r in responses}) == 1
        listed = await http.get("/users", params={"after": responses[0].json()["id"] - 1})
        assert [u["username"] for u in listed.json()["items"]].count(name) == 1


async def test_500_concurrent_purchases_make_500_cars(live_server: Server) -> None:
    name = f"buyer{uuid.uuid4().hex[:10]}"
    async with client(live_server) as http:
        assert (await http.post("/users", json={"username": name})).status_code == 201
        responses = await asyncio.gather(
            *(http.post(f"/users/{name}/cars", json={"model": f"M{i}"}) for i in range(500))
        )
        assert Counter(r.status_code for r in responses) == {201: 500}
        ids: list[int] = []
        after = None
        while True:
            params = {"limit": 500} | ({"after": after} if after else {})
            page = (await http.get(f"/users/{name}/cars", params=params)).json()
            ids += [car["id"] for car in page["items"]]
            if page["next"] is None:
                break
            after = page["next"]
        assert len(ids) == len(set(ids)) == 500
        assert sorted(ids) == sorted(r.json()["id"] for r in responses)


async def test_delete_racing_purchases_never_orphans_a_car(live_server: Server) -> None:
    async with client(live_server) as http:
        for _ in range(5):
            name = f"gone{uuid.uuid4().hex[:10]}"
            assert (await http.post("/users", json={"username": name})).status_code == 201
            buys = [http.post(f"/users/{name}/cars", json={"model": "Golf"}) for _ in range(30)]
            deletes = [http.delete(f"/users/{name}") for _ in range(5)]
            mixed = [c for pair in zip(buys, deletes + [None] * 25, strict=True) for c in pair]
            responses = await asyncio.gather(*(c for c in mixed if c is not None))
            statuses = Counter(r.status_code for r in responses)
            assert all(status < 500 for status in statuses), statuses
            assert set(statuses) <= {201, 204, 404, 409}, statuses
            bought = [r.json()["id"] for r in responses if r.status_code == 201]
            user = await http.get(f"/users/{name}")
            if user.status_code == 404:
                # Deleted: then no purchase may have succeeded, or it would own cars.
                assert bought == []
                assert (await http.get(f"/users/{name}/cars")).status_code == 404
            else:
                cars = (await http.get(f"/users/{name}/cars", params={"limit": 500})).json()
                assert sorted(c["id"] for c in cars["items"]) == sorted(bought)
                assert all(c["owner"] == user.json()["id"] for c in cars["items"])
            for car_id in bought:  # every car that was bought still resolves to its owner
                car = await http.get(f"/cars/{car_id}")
                assert car.status_code == 200


async def _car_with_buyers(http: httpx.AsyncClient, buyers: int) -> tuple[int, list[str]]:
    seller = f"seller{uuid.uuid4().hex[:10]}"
    names = [f"buyer{uuid.uuid4().hex[:10]}" for _ in range(buyers)]
    for name in (seller, *names):
        assert (await http.post("/users", json={"username": name})).status_code == 201
    car = await http.post(f"/users/{seller}/cars", json={"model": "Golf"})
    return car.json()["id"], names


async def test_50_concurrent_sales_of_one_car_leave_a_consecutive_history(
    live_server: Server,
) -> None:
    async with client(live_server) as http:
        car_id, buyers = await _car_with_buyers(http, 50)
        # Half the buyers try twice: the second attempt may find they already own it (409).
        attempts = [*buyers, *buyers[:25]]
        responses = await asyncio.gather(
            *(http.post(f"/cars/{car_id}/sale", json={"buyer": name}) for name in attempts)
        )
        statuses = Counter(r.status_code for r in responses)
        assert set(statuses) <= {200, 409}, statuses
        assert statuses[200] >= 50  # the first of a buyer's attempts to be served always buys

        history = (await http.get(f"/cars/{car_id}/owners", params={"limit": 500})).json()
        periods = history["items"]
        assert len(periods) == statuses[200] + 1  # the purchase's period, then one per sale
        assert [p["until"] is None for p in periods] == [False] * (len(periods) - 1) + [True]
        for earlier, later in itertools.pairwise(periods):
            assert earlier["until"] == later["since"]  # no gap, no overlap
            assert earlier["username"] != later["username"]  # no sale to the owner
            since, until = (dt.datetime.fromisoformat(earlier[k]) for k in ("since", "until"))
            assert since <= until
        sold_to = Counter(r.json()["owner"] for r in responses if r.status_code == 200)
        assert sold_to == Counter(p["owner"] for p in periods[1:])
        car = (await http.get(f"/cars/{car_id}")).json()
        assert car["owner"] == periods[-1]["owner"]


async def test_50_concurrent_sales_with_one_if_match_sell_once(live_server: Server) -> None:
    async with client(live_server) as http:
        car_id, buyers = await _car_with_buyers(http, 50)
        etag = (await http.get(f"/cars/{car_id}")).headers["ETag"]
        responses = await asyncio.gather(
            *(
                http.post(f"/cars/{car_id}/sale", json={"buyer": name}, headers={"If-Match": etag})
                for name in buyers
            )
        )
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {200: 1, 412: 49}, statuses
        [winner] = [r.json() for r in responses if r.status_code == 200]
        periods = (await http.get(f"/cars/{car_id}/owners")).json()["items"]
        assert len(periods) == 2
        assert periods[-1]["owner"] == winner["owner"]
        assert (await http.get(f"/cars/{car_id}")).json() == winner
