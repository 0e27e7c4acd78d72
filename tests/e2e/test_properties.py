"""Property tests of validation, over real HTTP: accepted input round-trips unchanged;
rejected input is a 422, never a 500."""

from __future__ import annotations

import os
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.utils.auth import AUTH
from tests.utils.server import Server

# Directly only: the database route changes nothing here (the API suite, races and fuzzing
# also run through PgBouncer).
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("route", ["direct"], indirect=True)]

PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "200")),
    derandomize=bool(os.environ.get("CI")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# JSON cannot carry lone surrogates; everything else is fair game.
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=100)
valid_username = st.from_regex(r"\A[A-Za-z0-9_.-]{1,64}\Z").filter(lambda s: s not in {".", ".."})
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=5,
)


@PROPERTY_SETTINGS
@given(username=valid_username | any_text)
def test_any_username_round_trips_or_is_a_422(live_server: Server, username: str) -> None:
    with httpx.Client(headers=AUTH, base_url=live_server.url) as http:
        created = http.post("/users", json={"username": username})
        assert created.status_code in (200, 201, 422), created.text
        if created.status_code == 422:
            assert created.headers["content-type"] == "application/problem+json"
            assert created.json()["errors"][0]["field"] == "username"
            return
        assert created.json()["username"] == username
        fetched = http.get(f"/users/{quote(username, safe='')}")
        assert fetched.status_code == 200
        assert fetched.json() == created.json()


@PROPERTY_SETTINGS
@given(body=st.dictionaries(st.sampled_from(["username", "role", "created_at", "x"]), json_values))
def test_any_user_body_is_accepted_or_a_422(live_server: Server, body: dict[str, object]) -> None:
    with httpx.Client(headers=AUTH, base_url=live_server.url) as http:
        response = http.post("/users", json=body)
    assert response.status_code in (200, 201, 422), response.text


@PROPERTY_SETTINGS
@given(model=any_text)
def test_any_car_model_round_trips_or_is_a_422(live_server: Server, model: str) -> None:
    with httpx.Client(headers=AUTH, base_url=live_server.url) as http:
        owner = http.post("/users", json={"username": "property-owner"}).json()["username"]
        created = http.post(f"/users/{owner}/cars", json={"model": model})
        assert created.status_code in (201, 422), created.text
        if created.status_code == 201:
            assert created.json()["model"] == model
            assert http.get(created.headers["Location"]).json()["model"] == model
