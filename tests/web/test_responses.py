"""`answers` (`best_app.web.responses`): the output model stated once documents the route
and shapes what the view returns; a `Response` the view returns passes through."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel
from quart import Quart, Response
from quart_schema import QuartSchema

from best_app.errors import register_error_handlers
from best_app.web.responses import answers, no_content


class Out(BaseModel):
    id: int
    name: str


@dataclass
class Row:
    id: int
    version: int
    name: str
    secret: str = "never sent"


def _app() -> Quart:
    app = Quart(__name__)
    QuartSchema(app)
    register_error_handlers(app)

    @app.get("/row")
    @answers(Out, etag=lambda row: f"{row.id}.{row.version}")
    async def row() -> Row:
        return Row(7, 3, "seven")

    @app.post("/made")
    @answers(Out, 201)
    async def made() -> tuple[Row, int, dict[str, str]]:
        return Row(8, 1, "eight"), 201, {"Location": "/row/8"}

    @app.get("/with-headers")
    @answers(Out)
    async def with_headers() -> tuple[Row, dict[str, str]]:
        return Row(10, 1, "ten"), {"Cache-Control": "no-store"}

    @app.get("/dict")
    @answers(Out)
    async def as_dict() -> dict[str, object]:
        return {"id": 9, "name": "nine"}

    @app.get("/empty")
    @answers(Out)
    async def empty() -> Response:
        return no_content()

    @app.get("/wrong")
    @answers(Out)
    async def wrong() -> dict[str, object]:
        return {"id": "not a number", "name": "x"}

    return app


async def test_a_row_is_answered_through_the_model_with_its_etag() -> None:
    response = await _app().test_client().get("/row")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert await response.get_json() == {"id": 7, "name": "seven"}
    assert response.headers["ETag"] == '"7.3"'


async def test_status_and_headers_come_from_the_view() -> None:
    response = await _app().test_client().post("/made")
    assert response.status_code == 201
    assert response.headers["Location"] == "/row/8"
    assert "ETag" not in response.headers
    assert await response.get_json() == {"id": 8, "name": "eight"}


async def test_headers_alone_come_from_the_view() -> None:
    response = await _app().test_client().get("/with-headers")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert await response.get_json() == {"id": 10, "name": "ten"}


async def test_a_dict_is_validated_and_a_response_passes_through() -> None:
    client = _app().test_client()
    assert await (await client.get("/dict")).get_json() == {"id": 9, "name": "nine"}
    empty = await client.get("/empty")
    assert empty.status_code == 204
    assert await empty.get_data() == b""


async def test_a_value_the_model_refuses_is_a_server_error() -> None:
    response = await _app().test_client().get("/wrong")
    assert response.status_code == 500
    assert "not a number" not in await response.get_data(as_text=True)


async def test_the_model_is_documented_for_each_status() -> None:
    spec = await (await _app().test_client().get("/openapi.json")).get_json()
    for path, method, status in (("/row", "get", "200"), ("/made", "post", "201")):
        content = spec["paths"][path][method]["responses"][status]["content"]
        assert content["application/json"]["schema"]["title"] == "Out"
        assert set(content["application/json"]["schema"]["properties"]) == {"id", "name"}
