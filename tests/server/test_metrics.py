"""Message counts and latency, per message id and outcome, counted in plain Python, stay exact."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram

from sip2d.server.metrics import LATENCY_BUCKETS, Metrics
from tests.server.conftest import ALICE, Running

Labels = tuple[tuple[str, str], ...]


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_count_message_counts_each_label_set_separately() -> None:
    metrics = Metrics()
    for _ in range(3):
        metrics.count_message("99", "ok", 0.0002)
    metrics.count_message("99", "offline", 0.003)
    metrics.count_message("23", "ok", 0.02)
    assert sample(metrics, "sip2d_messages_total", message="99", outcome="ok") == 3
    assert sample(metrics, "sip2d_messages_total", message="99", outcome="offline") == 1
    assert sample(metrics, "sip2d_messages_total", message="23", outcome="ok") == 1
    # The histogram is per message id: both outcomes of 99 land in it.
    assert sample(metrics, "sip2d_message_seconds_count", message="99") == 4
    assert sample(metrics, "sip2d_message_seconds_bucket", message="99", le="0.0005") == 3
    assert abs(sample(metrics, "sip2d_message_seconds_sum", message="99") - 0.0036) < 1e-9
    assert sample(metrics, "sip2d_message_seconds_count", message="23") == 1


def test_two_daemons_do_not_share_counts() -> None:
    first, second = Metrics(), Metrics()
    first.count_message("99", "ok", 0.001)
    assert sample(second, "sip2d_messages_total", message="99", outcome="ok") == 0


async def test_keepalives_and_other_messages_are_counted_over_tcp(running: Running) -> None:
    client = await running.logged_in()
    for _ in range(5):
        await client.sc_status()
    await client.patron_status(ALICE[0], ALICE[1])
    running.daemon.ctx.health.failed(OSError("database gone"))
    await client.sc_status()
    running.daemon.ctx.health.succeeded()
    metrics = running.daemon.ctx.metrics
    assert sample(metrics, "sip2d_messages_total", message="99", outcome="ok") == 5
    assert sample(metrics, "sip2d_messages_total", message="99", outcome="offline") == 1
    assert sample(metrics, "sip2d_messages_total", message="23", outcome="ok") == 1
    assert sample(metrics, "sip2d_messages_total", message="93", outcome="ok") == 1
    assert sample(metrics, "sip2d_message_seconds_count", message="99") == 6


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["99", "23", "11"]),
            st.sampled_from(["ok", "offline", "db_error"]),
            st.one_of(
                st.sampled_from(LATENCY_BUCKETS),  # exactly on a bound: counted in that bucket
                st.floats(min_value=0, max_value=10, allow_nan=False),
            ),
        ),
        max_size=40,
    )
)
def test_message_stats_expose_what_prometheus_client_would(
    observations: list[tuple[str, str, float]],
) -> None:
    """The plain-Python counts give the same samples as prometheus-client's own classes."""
    ours = Metrics()
    reference = CollectorRegistry()
    counter = Counter("sip2d_messages", "x", ["message", "outcome"], registry=reference)
    histogram = Histogram(
        "sip2d_message_seconds", "x", ["message"], buckets=LATENCY_BUCKETS, registry=reference
    )
    for message_id, outcome, seconds in observations:
        ours.count_message(message_id, outcome, seconds)
        counter.labels(message_id, outcome).inc()
        histogram.labels(message_id).observe(seconds)

    def samples(registry: CollectorRegistry) -> dict[tuple[str, Labels], float]:
        found: dict[tuple[str, Labels], float] = {}
        for family in registry.collect():
            if family.name not in ("sip2d_messages", "sip2d_message_seconds"):
                continue
            for s in family.samples:
                if not s.name.endswith("_created"):
                    found[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return found

    expected = samples(reference)
    got = samples(ours.registry)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert abs(got[key] - value) < 1e-9, key
