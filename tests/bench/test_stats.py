"""Percentiles and merging: the figures every report and dashboard is built from."""

from __future__ import annotations

from array import array

from hypothesis import given
from hypothesis import strategies as st

from sip2d.bench.stats import Tally, latency_summary, percentile, summarise

latencies = st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), min_size=1)


@given(latencies, st.floats(min_value=0.01, max_value=100))
def test_percentile_is_a_sample_with_enough_samples_at_or_below_it(
    values: list[float], pct: float
) -> None:
    ordered = sorted(values)
    found = percentile(ordered, pct)
    assert found in ordered
    at_or_below = sum(v <= found for v in ordered)
    assert at_or_below >= pct / 100 * len(ordered)
    below = sum(v < found for v in ordered)
    assert below < pct / 100 * len(ordered) or below == 0


@given(latencies)
def test_summary_is_ordered_and_in_milliseconds(values: list[float]) -> None:
    summary = latency_summary(values)
    assert summary["count"] == len(values)
    assert summary["p50"] <= summary["p95"] <= summary["p99"] <= summary["max"]
    assert abs(summary["max"] - max(values) * 1000) < 1e-3


@given(st.lists(latencies, min_size=1, max_size=4))
def test_merging_processes_equals_one_tally_of_everything(parts: list[list[float]]) -> None:
    merged = Tally(window=2.0)
    single = Tally(window=2.0)
    for part in parts:
        tally = Tally(window=2.0)
        tally.samples("23").extend(part)
        tally.ok["23"] += len(part)
        tally.errors["timeout"] += 1
        merged.merge(tally)
        single.samples("23").extend(part)
        single.ok["23"] += len(part)
        single.errors["timeout"] += 1
    a, b = summarise(merged, {}), summarise(single, {})
    assert a == b
    assert a["messages"] == sum(len(p) for p in parts)
    assert a["messages_per_second"] == round(a["messages"] / 2.0, 1)
    assert a["errors"] == {"timeout": len(parts)}


def test_refusals_are_reported_as_errors_by_message_id() -> None:
    tally = Tally(window=1.0)
    tally.samples("11").extend(array("d", [0.001, 0.002]))
    tally.ok["11"] += 1
    tally.refused["11"] += 1
    summary = summarise(tally, {"scenario": "session"})
    assert summary["errors"] == {"refused:11": 1}
    assert summary["error_count"] == 1
    assert summary["responses"] == {"11": {"ok": 1, "refused": 1}}
    assert set(summary["latency_ms"]) == {"11", "all"}
