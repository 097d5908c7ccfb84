"""Prometheus metrics for one daemon, in a registry of its own.

A registry per daemon (not prometheus-client's process-wide default) keeps tests that start
several servers in one process independent. Labels are message ids, outcomes and reasons from
small fixed sets: never a barcode, a PIN, a login or an address, so cardinality stays bounded
and nothing secret can leak through a label.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Every metric the daemon exports, created once at start-up."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.connections_open = Gauge(
            "sip2d_connections_open", "Kiosk connections open", registry=r
        )
        self.connections_refused = Counter(
            "sip2d_connections_refused_total",
            "Connections closed at once because a connection limit was reached",
            ["limit"],
            registry=r,
        )
        self.messages = Counter(
            "sip2d_messages_total", "SIP2 requests handled", ["message", "outcome"], registry=r
        )
        self.latency = Histogram(
            "sip2d_message_seconds",
            "Time from a complete request frame to its response being ready",
            ["message"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.wire_events = Counter(
            "sip2d_wire_events_total",
            "Frames answered without executing (bad checksum, 97 resend, duplicates, garbage)",
            ["reason"],
            registry=r,
        )
        self.checksum_failures = Counter(
            "sip2d_checksum_failures_total", "Requests whose checksum did not verify", registry=r
        )
        self.login_failures = Counter(
            "sip2d_login_failures_total", "Refused 93 logins", ["reason"], registry=r
        )
        self.pin_failures = Counter(
            "sip2d_pin_failures_total", "PIN checks that did not succeed", ["outcome"], registry=r
        )
        self.lockouts = Counter(
            "sip2d_pin_lockouts_total", "Patrons locked after too many wrong PINs", registry=r
        )
        self.throttled = Counter(
            "sip2d_throttled_total",
            "PIN checks slowed or refused because one source failed for many patrons",
            ["action"],
            registry=r,
        )
        self.db_errors = Counter(
            "sip2d_database_errors_total", "Database operations that failed", registry=r
        )
        self.db_online = Gauge(
            "sip2d_database_online", "1 when the last database health check succeeded", registry=r
        )

        # Labelled children of ``messages`` and ``latency`` per (message id, outcome).
        # ``.labels()`` validates and looks the labels up under a lock on every call; the
        # child it returns stays valid, and the label sets are small and fixed.
        self._message_children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def count_message(self, message_id: str, outcome: str, seconds: float) -> None:
        children = self._message_children.get((message_id, outcome))
        if children is None:
            children = self._message_children[(message_id, outcome)] = (
                self.messages.labels(message_id, outcome),
                self.latency.labels(message_id),
            )
        children[0].inc()
        children[1].observe(seconds)

    def count_wire_event(self, reason: str) -> None:
        self.wire_events.labels(reason).inc()
        if reason == "bad checksum":
            self.checksum_failures.inc()
