"""Structured logging to stderr: readable text on a terminal, JSON lines for collectors.

Log calls pass their data through ``extra=`` (connection id, account, message id, result,
latency, parsed fields). The fields of a message always come from the codec's redacting
function, never from the raw frame, so a PIN or password cannot reach a log line by accident.

A busy daemon writes one line per message, so the formatting path is kept cheap: the
timestamp text is computed once per second of the clock, the JSON encoder is built once, and
the ``extra=`` data is found at the end of the record's attributes instead of by scanning all
of them (see :func:`_extras`).
"""

from __future__ import annotations

import json
import logging
import math
import sys
from datetime import UTC, datetime
from itertools import islice
from typing import Any

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# LogRecord.__init__ sets this many attributes, and Logger.makeRecord adds ``extra=`` after
# them; dicts keep insertion order, so the extras are the record's attributes from here on.
_INIT_ATTRIBUTES = len(vars(logging.makeLogRecord({})))


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra=`` data of a record, in the order the call passed it.

    Only the attributes after those ``LogRecord.__init__`` sets are examined (about 5 instead
    of about 25); they are still checked against the standard names, so an attribute another
    formatter adds later (``message``, ``asctime``) is never mistaken for extra data.
    """
    tail = islice(vars(record).items(), _INIT_ATTRIBUTES, None)
    return {key: value for key, value in tail if key not in _STANDARD}


class _SecondStamp:
    """Text of a timestamp whose part down to the second is formatted once per second.

    ``seconds`` formats a whole-second datetime; the milliseconds are appended here. The
    split into whole seconds and microseconds rounds exactly as ``datetime.fromtimestamp``
    does (half to even, carrying into the next second), so the text is the same as
    formatting the full datetime, at a fraction of the cost.
    """

    def __init__(self, tz: Any, head: Any, tail: str) -> None:
        self._tz = tz
        self._head = head
        self._tail = tail
        self._second = math.nan
        self._text = ""

    def __call__(self, created: float) -> str:
        fraction, whole = math.modf(created)
        micro = round(fraction * 1_000_000)
        if micro >= 1_000_000:
            micro -= 1_000_000
            whole += 1.0
        if whole != self._second:
            self._text = self._head(datetime.fromtimestamp(whole, self._tz))
            self._second = whole
        return f"{self._text}.{micro // 1000:03d}{self._tail}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, event, then the ``extra=`` fields."""

    def __init__(self) -> None:
        super().__init__()
        # json.dumps with options builds a new encoder per call; this one is built once.
        self._encoder = json.JSONEncoder(default=str, ensure_ascii=False)
        # isoformat(timespec="milliseconds") of an aware UTC datetime, computed per second.
        self._stamp = _SecondStamp(UTC, lambda d: d.isoformat(timespec="seconds")[:-6], "+00:00")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._stamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return self._encoder.encode(entry)


class TextFormatter(logging.Formatter):
    """``HH:MM:SS.mmm LEVEL event key=value ...`` in local time, for a terminal."""

    def __init__(self) -> None:
        super().__init__()
        self._stamp = _SecondStamp(None, lambda d: d.strftime("%H:%M:%S"), "")

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{self._stamp(record.created)} {record.levelname:<7} {record.getMessage()}"]
        parts += [f"{key}={value}" for key, value in _extras(record).items()]
        text = " ".join(parts)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure_logging(level: str = "INFO", fmt: str = "auto", stream: Any = None) -> None:
    """Install one stderr handler on the ``sip2d`` logger (idempotent: replaces its own).

    Also turns off what the standard library gathers for every record and sip2d never
    prints: the caller's file and line (a stack walk per call), and the thread, process and
    multiprocessing names. These are the switches the logging HOWTO's "Optimization" section
    documents; they apply to the whole process, which is the daemon this configures.
    """
    stream = stream or sys.stderr
    if fmt == "auto":
        fmt = "text" if getattr(stream, "isatty", lambda: False)() else "json"
    logging._srcfile = None  # the documented switch that skips findCaller
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_name("sip2d")
    logger = logging.getLogger("sip2d")
    for old in [h for h in logger.handlers if h.get_name() == "sip2d"]:
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
