"""Log lines: one JSON object per line in production, readable text in development."""

from __future__ import annotations

import json
import logging

from best_app.observability.logs import FIELDS, JsonFormatter, TextFormatter
from best_app.web.request_id import REQUEST_ID


def _record(message: str, exc_info: bool = False) -> logging.LogRecord:
    error: BaseException | None = None
    try:
        raise ValueError("boom")
    except ValueError as caught:
        error = caught
    record = logging.LogRecord("best_app.test", logging.WARNING, __file__, 1, message, ("x",), None)
    if exc_info:
        record.exc_info = (type(error), error, error.__traceback__)
    setattr(record, FIELDS, {"user": "ann"})
    return record


def test_json_lines_carry_fields_the_request_id_and_the_traceback() -> None:
    token = REQUEST_ID.set("rid-1")
    try:
        line = JsonFormatter().format(_record("saw %s", exc_info=True))
    finally:
        REQUEST_ID.reset(token)
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "best_app.test"
    assert entry["message"] == "saw x"
    assert entry["user"] == "ann"
    assert entry["request_id"] == "rid-1"
    assert "ValueError: boom" in entry["exception"]
    assert entry["time"].endswith("+00:00")


def test_text_lines_are_readable_and_name_the_request() -> None:
    token = REQUEST_ID.set("rid-2")
    try:
        line = TextFormatter().format(_record("saw %s"))
    finally:
        REQUEST_ID.reset(token)
    assert line.endswith("WARNING best_app.test: saw x [request_id=rid-2]")
    assert line[:4].isdigit()


def test_outside_a_request_there_is_no_request_id() -> None:
    assert "request_id" not in json.loads(JsonFormatter().format(_record("idle %s")))
    assert "request_id" not in TextFormatter().format(_record("idle %s"))
