"""Logs are one JSON object per line, with the fields passed in `extra=`."""

from __future__ import annotations

import json
import logging
import sys

from lumipay.observability import JSONFormatter


def test_a_record_becomes_one_json_line_with_its_extra_fields() -> None:
    record = logging.LogRecord(
        "lumipay.bills", logging.WARNING, __file__, 1, "bill %s", ("x",), None
    )
    record.reference = "BL123"
    line = JSONFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["logger"] == "lumipay.bills"
    assert entry["message"] == "bill x" and entry["reference"] == "BL123"
    assert entry["time"].endswith("+00:00")


def test_an_exception_is_logged_inside_the_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "lumipay", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    entry = json.loads(JSONFormatter().format(record))
    assert "ValueError: boom" in entry["exception"]


def test_a_line_carries_the_request_id_of_its_chain_and_an_explicit_one_wins() -> None:
    from lumipay import requestid

    record = logging.LogRecord("lumipay.jobs", logging.INFO, __file__, 1, "ran", (), None)
    assert "request_id" not in json.loads(JSONFormatter().format(record))
    with requestid.bound("page-req-00000001"):
        assert json.loads(JSONFormatter().format(record))["request_id"] == "page-req-00000001"
        record.request_id = "given-explicitly"
        assert json.loads(JSONFormatter().format(record))["request_id"] == "given-explicitly"
    assert requestid.current() is None
