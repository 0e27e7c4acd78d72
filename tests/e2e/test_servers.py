"""best_app is an ASGI app, not a Hypercorn app: the same black-box conversation with the API
(every endpoint, success and errors, JSON bodies, a body sent in chunks, conditional requests)
gets the same answers from Hypercorn, Uvicorn and Granian.

Each server gets a fresh database, so ids and lists are the same everywhere. A transcript keeps
each answer's status, content type, body (request ids checked, then blanked) and the headers
the API promises; Hypercorn's transcript is the reference, and its answers are also checked
against the API contract here, so agreeing on a wrong answer cannot pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.utils.dbtools import fresh_database, migrate
from tests.utils.server import SERVERS, run_server, server_env

pytestmark = pytest.mark.slow
TOKEN = "portable-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIMIT = 2048  # MAX_CONTENT_LENGTH for these servers
PROMISED_HEADERS = (
    "location", "etag", "www-authenticate", "retry-after", "x-content-type-options",
    "referrer-policy", "x-frame-options", "content-security-policy",
)  # fmt: skip
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# Times and dates are when each conversation ran; their format is compared, not their value.
WHEN = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?Z)?")
Answer = dict[str, Any]


def _chunks(body: bytes) -> Iterator[bytes]:
    yield body[:7]
    yield body[7:]


# (label, method, path, keyword arguments for httpx, expected status)
CONVERSATION: list[tuple[str, str, str, dict[str, Any], int]] = [
    ("hello", "GET", "/hello/say", {}, 200),
    ("bye", "GET", "/bye/say", {}, 200),
    ("healthz", "GET", "/healthz", {}, 200),
    ("readyz", "GET", "/readyz", {}, 200),
    ("create", "POST", "/users", {"json": {"username": "ann", "role": "teacher"}}, 201),
    ("create again", "POST", "/users", {"json": {"username": "ann"}}, 200),
    ("create in chunks", "POST", "/users", {"chunked": b'{"username": "bob"}'}, 201),
    ("create default role", "POST", "/users", {"json": {"username": "cy"}}, 201),
    ("create no token", "POST", "/users", {"json": {"username": "dee"}, "auth": False}, 401),
    ("create bad token", "POST", "/users", {"json": {"username": "dee"}, "token": "x"}, 401),
    ("create not json", "POST", "/users", {"content": b'{"username": '}, 400),
    ("create invalid utf-8", "POST", "/users", {"content": b'{"username": "\xc3\x28"}'}, 400),
    ("create text/plain", "POST", "/users", {"content": b"ann", "type": "text/plain"}, 400),
    ("create bad name", "POST", "/users", {"json": {"username": "a b"}}, 422),
    ("create unknown field", "POST", "/users", {"json": {"username": "e", "x": 1}}, 422),
    ("create bad role", "POST", "/users", {"json": {"username": "e", "role": "king"}}, 422),
    ("create too large", "POST", "/users", {"json": {"username": "f" * LIMIT}}, 413),
    ("list", "GET", "/users", {}, 200),
    ("list teachers", "GET", "/users?role=teacher", {}, 200),
    ("list page", "GET", "/users?limit=1", {}, 200),
    ("list next page", "GET", "/users?limit=1&after=1", {}, 200),
    ("list bad limit", "GET", "/users?limit=0", {}, 422),
    ("list bad after", "GET", "/users?after=x", {}, 422),
    ("get user", "GET", "/users/ann", {}, 200),
    ("user not modified", "GET", "/users/ann", {"if_none_match": "get user"}, 304),
    ("get unknown user", "GET", "/users/nobody", {}, 404),
    (
        "patch user",
        "PATCH",
        "/users/ann",
        {"json": {"role": "student"}, "if_match": "get user"},
        200,
    ),
    (
        "patch user stale",
        "PATCH",
        "/users/ann",
        {"json": {"role": "employee"}, "if_match": "get user"},
        412,
    ),
    ("patch user bad role", "PATCH", "/users/ann", {"json": {"role": "king"}}, 422),
    ("patch user not json", "PATCH", "/users/ann", {"content": b"{"}, 400),
    (
        "patch user no token",
        "PATCH",
        "/users/ann",
        {"json": {"role": "student"}, "auth": False},
        401,
    ),
    ("patch unknown user", "PATCH", "/users/nobody", {"json": {"role": "student"}}, 404),
    ("buy", "POST", "/users/ann/cars", {"json": {"model": "Golf"}}, 201),
    ("buy in chunks", "POST", "/users/ann/cars", {"chunked": b'{"model": "Polo"}'}, 201),
    ("buy unknown user", "POST", "/users/nobody/cars", {"json": {"model": "Golf"}}, 404),
    ("buy empty model", "POST", "/users/ann/cars", {"json": {"model": ""}}, 422),
    ("buy not json", "POST", "/users/ann/cars", {"content": b"[1,"}, 400),
    ("buy no token", "POST", "/users/ann/cars", {"json": {"model": "Golf"}, "auth": False}, 401),
    ("cars", "GET", "/users/ann/cars", {}, 200),
    ("cars page", "GET", "/users/ann/cars?limit=1", {}, 200),
    ("cars unknown user", "GET", "/users/nobody/cars", {}, 404),
    ("cars bad limit", "GET", "/users/ann/cars?limit=501", {}, 422),
    ("car", "GET", "/cars/1", {}, 200),
    ("car not modified", "GET", "/cars/1", {"if_none_match": "car"}, 304),
    ("unknown car", "GET", "/cars/999", {}, 404),
    ("car id beyond integer", "GET", "/cars/99999999999", {}, 404),
    ("patch car", "PATCH", "/cars/1", {"json": {"model": "Golf GTI"}, "if_match": "car"}, 200),
    ("patch car stale", "PATCH", "/cars/1", {"json": {"model": "Up"}, "if_match": "car"}, 412),
    ("patch car empty model", "PATCH", "/cars/1", {"json": {"model": ""}}, 422),
    ("patch unknown car", "PATCH", "/cars/999", {"json": {"model": "Up"}}, 404),
    ("sell car", "POST", "/cars/1/sale", {"json": {"buyer": "bob"}, "if_match": "patch car"}, 200),
    ("sell to its owner", "POST", "/cars/1/sale", {"json": {"buyer": "bob"}}, 409),
    ("sell to unknown buyer", "POST", "/cars/1/sale", {"json": {"buyer": "nobody"}}, 404),
    ("sell unknown car", "POST", "/cars/999/sale", {"json": {"buyer": "bob"}}, 404),
    ("sell bad body", "POST", "/cars/1/sale", {"json": {"buyer": "bob", "price": 1}}, 422),
    ("sell no token", "POST", "/cars/1/sale", {"json": {"buyer": "cy"}, "auth": False}, 401),
    ("owners", "GET", "/cars/1/owners", {}, 200),
    ("owners page", "GET", "/cars/1/owners?limit=1", {}, 200),
    ("owners unknown car", "GET", "/cars/999/owners", {}, 404),
    ("owners bad limit", "GET", "/cars/1/owners?limit=0", {}, 422),
    ("delete owner", "DELETE", "/users/ann", {}, 409),
    ("delete car no token", "DELETE", "/cars/1", {"auth": False}, 401),
    ("delete car", "DELETE", "/cars/1", {}, 204),
    ("delete car again", "DELETE", "/cars/1", {}, 404),
    ("delete car stale", "DELETE", "/cars/2", {"headers": {"If-Match": '"stale"'}}, 412),
    ("delete car 2", "DELETE", "/cars/2", {}, 204),
    ("delete user", "DELETE", "/users/ann", {}, 204),
    ("delete user again", "DELETE", "/users/ann", {}, 404),
    ("unknown path", "GET", "/nope", {}, 404),
    ("method not allowed", "PUT", "/users", {"json": {}}, 405),
    ("openapi", "GET", "/openapi.json", {}, 200),
    ("docs", "GET", "/docs", {}, 200),
    ("metrics", "GET", "/metrics", {}, 200),
]


def _timeless(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _timeless(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_timeless(item) for item in value]
    if isinstance(value, str) and (match := WHEN.fullmatch(value)):
        return "<time>" if match.group(1) else "<date>"
    return value


def _request(
    http: httpx.Client, method: str, path: str, options: dict[str, Any], earlier: dict[str, Answer]
) -> Answer:
    options = dict(options)
    headers = {"X-Request-ID": "conversation-1"} if path == "/hello/say" else {}
    headers.update(options.pop("headers", {}))
    for option, header in (("if_none_match", "If-None-Match"), ("if_match", "If-Match")):
        if option in options:  # the ETag of an earlier answer, by its label
            headers[header] = earlier[options.pop(option)]["headers"]["etag"]
    if options.pop("auth", True) and method in {"POST", "PUT", "PATCH", "DELETE"}:
        headers["Authorization"] = f"Bearer {options.pop('token', TOKEN)}"
    if "chunked" in options:  # no Content-Length: the body arrives as it is sent
        options["content"] = _chunks(options.pop("chunked"))
    if "content" in options:
        headers["Content-Type"] = options.pop("type", "application/json")
    response = http.request(method, path, headers=headers, **options)
    request_id = response.headers.get("x-request-id", "")
    assert REQUEST_ID.fullmatch(request_id), (path, response.headers)
    content_type = response.headers.get("content-type", "")
    body: Any = response.text
    if "json" in content_type:
        body = response.json()
        if isinstance(body, dict) and "request_id" in body:
            assert body.pop("request_id") == request_id
    if path == "/metrics":  # counts and process figures differ; the format must not
        body = "best_app_http_requests_total" in body
    if path == "/docs":  # the page is the same; its asset hashes need not be compared twice
        body = "swagger" in body.lower()
    return {
        "status": response.status_code,
        "content_type": content_type,
        "body": _timeless(body),
        "echoed_request_id": request_id == "conversation-1",
        "headers": {name: response.headers.get(name) for name in PROMISED_HEADERS},
        # The same methods; each server may list them in its own order.
        "allow": sorted(response.headers.get("allow", "").split(", ")),
    }


def _transcript(server: str, server_url: str, log: Path) -> dict[str, Answer]:
    with fresh_database(server_url, prefix="best_app_portable") as url:
        migrate(url)
        env = server_env(url, API_TOKENS=TOKEN, MAX_CONTENT_LENGTH=str(LIMIT))
        with (
            run_server(env, log, server=server) as running,
            httpx.Client(base_url=running.url, timeout=30) as http,
        ):
            answers: dict[str, Answer] = {}
            for label, method, path, options, _ in CONVERSATION:
                answers[label] = _request(http, method, path, options, answers)
            return answers


@pytest.fixture(scope="module")
def transcript(
    server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], dict[str, Answer]]:
    """A server's transcript, made once per module when first asked for."""
    made: dict[str, dict[str, Answer]] = {}
    logs = tmp_path_factory.mktemp("servers")

    def get(server: str) -> dict[str, Answer]:
        if server not in made:
            made[server] = _transcript(server, server_url, logs / f"{server}.log")
        return made[server]

    return get


def test_hypercorn_answers_as_the_api_promises(
    transcript: Callable[[str], dict[str, Answer]],
) -> None:
    answers = transcript("hypercorn")
    statuses = {label: answers[label]["status"] for label, *_ in CONVERSATION}
    assert statuses == {label: status for label, _, _, _, status in CONVERSATION}
    for label, answer in answers.items():
        if answer["status"] >= 400:
            assert answer["content_type"] == "application/problem+json", label
            assert answer["body"]["status"] == answer["status"], label
        assert answer["headers"]["x-content-type-options"] == "nosniff", label
    assert answers["hello"]["body"] == "Hello XY!"
    assert answers["hello"]["echoed_request_id"]
    assert answers["create"]["headers"]["location"] == "/users/ann"
    assert answers["create in chunks"]["body"]["username"] == "bob"
    assert answers["buy in chunks"]["body"]["model"] == "Polo"
    assert answers["create no token"]["headers"]["www-authenticate"].startswith("Bearer")
    assert answers["method not allowed"]["allow"] == ["GET", "HEAD", "OPTIONS", "POST"]
    assert [u["username"] for u in answers["list"]["body"]["items"]] == ["ann", "bob", "cy"]
    assert answers["metrics"]["body"] is True
    assert answers["get user"]["headers"]["etag"]
    assert answers["user not modified"]["body"] == ""
    assert answers["patch user"]["body"]["role"] == "student"
    assert answers["sell car"]["body"]["owner"] == answers["create in chunks"]["body"]["id"]
    assert [o["username"] for o in answers["owners"]["body"]["items"]] == ["ann", "bob"]


@pytest.mark.parametrize("server", [s for s in SERVERS if s != "hypercorn"])
def test_other_servers_answer_as_hypercorn_does(
    transcript: Callable[[str], dict[str, Answer]], server: str
) -> None:
    reference, answers = transcript("hypercorn"), transcript(server)
    differences = [
        f"{label}: {key}: hypercorn {reference[label][key]!r}, {server} {answers[label][key]!r}"
        for label in reference
        for key in reference[label]
        if answers[label][key] != reference[label][key]
    ]
    if differences:
        pytest.fail("\n".join(differences), pytrace=False)
