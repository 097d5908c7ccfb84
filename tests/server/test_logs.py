"""The log formatters, and which messages a running daemon logs at which level."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from sip2d.server.logs import JsonFormatter, TextFormatter, configure_logging
from tests.auth.secret_scan import assert_secret_absent
from tests.server.conftest import ALICE, KIOSK, Running, make_config, seed, start


def record(created: float, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("sip2d.test")
    made = logger.makeRecord(
        "sip2d.test", logging.INFO, "f.py", 1, "message", (), None, extra=extra
    )
    made.created = created
    return made


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_timestamps_match_formatting_the_full_datetime(created: float) -> None:
    entry = json.loads(JsonFormatter().format(record(created)))
    assert entry["ts"] == datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    text = TextFormatter().format(record(created))
    assert text.split(" ")[0] == datetime.fromtimestamp(created).strftime("%H:%M:%S.%f")[:-3]


@pytest.mark.parametrize("fraction", [0.0, 0.0004995, 0.0005, 0.9994999, 0.9995, 0.9999995])
def test_timestamps_round_like_datetime_across_a_second(fraction: float) -> None:
    formatter = JsonFormatter()  # one instance: its per-second cache must not go stale
    for second in (1_700_000_000, 1_700_000_001, 1_700_000_000):
        created = second + fraction
        expected = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        assert json.loads(formatter.format(record(created)))["ts"] == expected


def test_json_line_fields_and_order() -> None:
    made = record(1_700_000_000.25, conn="c1", account="k", msg_id="23", result="ok", ms=0.5)
    made.message = "set by another formatter"  # must not be mistaken for extra data
    line = JsonFormatter().format(made)
    assert line == (
        '{"ts": "2023-11-14T22:13:20.250+00:00", "level": "info", "logger": "sip2d.test", '
        '"event": "message", "conn": "c1", "account": "k", "msg_id": "23", "result": "ok", '
        '"ms": 0.5}'
    )
    assert (
        TextFormatter()
        .format(made)
        .endswith(" INFO    message conn=c1 account=k msg_id=23 result=ok ms=0.5")
    )


def test_non_json_values_and_non_ascii_text() -> None:
    line = JsonFormatter().format(record(0.0, when=datetime(2024, 1, 2), patron_name="Zoë"))
    assert json.loads(line)["when"] == "2024-01-02 00:00:00" and "Zoë" in line


def test_configure_logging_skips_what_no_line_prints() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    logging.getLogger("sip2d.test").info("hello", extra={"conn": "c9"})
    entry = json.loads(stream.getvalue())
    assert entry["event"] == "hello" and entry["conn"] == "c9"
    made = logging.getLogger("sip2d.test").makeRecord(
        "sip2d.test", logging.INFO, "f.py", 1, "x", (), None
    )
    assert made.threadName is None and made.processName is None


@contextmanager
def captured_log(level: int) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("sip2d")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def message_lines(text: str) -> list[dict[str, object]]:
    entries = [json.loads(line) for line in text.splitlines()]
    return [entry for entry in entries if entry["event"] == "message"]


async def test_keepalive_99_is_logged_at_debug_other_messages_at_info(running: Running) -> None:
    with captured_log(logging.INFO) as info:
        client = await running.logged_in()
        await client.sc_status()
        await client.patron_status(ALICE[0], ALICE[1])
        await client.aclose()
    logged = message_lines(info.getvalue())
    assert [(e["msg_id"], e["level"]) for e in logged] == [("93", "info"), ("23", "info")]
    assert all("fields" not in e for e in logged)

    with captured_log(logging.DEBUG) as debug:
        client = await running.logged_in()
        await client.sc_status()
        await client.aclose()
    logged = message_lines(debug.getvalue())
    assert [(e["msg_id"], e["level"]) for e in logged] == [("93", "info"), ("99", "debug")]
    keepalive = logged[1]
    assert keepalive["result"] == "ok" and keepalive["account"] == KIOSK[0]
    assert isinstance(keepalive["fields"], dict)
    assert_secret_absent(KIOSK[1], debug.getvalue())


async def test_99_answered_off_line_stays_at_info(
    nursery: trio.Nursery, tmp_path: Path, sqlite_url: str
) -> None:
    # No health check during the test: it would put the database back on line.
    config = make_config(tmp_path, sqlite_url, health_check_interval=3600.0)
    seed(config)
    running = await start(nursery, config)
    with captured_log(logging.INFO) as info:
        client = await running.logged_in()
        running.daemon.ctx.health.failed(OSError("database gone"))
        offline = (await client.sc_status()).message
        running.daemon.ctx.health.succeeded()
        await client.aclose()
    running.daemon.stop()
    assert offline.online_status is False  # type: ignore[attr-defined]
    logged = message_lines(info.getvalue())
    assert [(e["msg_id"], e["result"], e["level"]) for e in logged][-1] == ("99", "offline", "info")
