"""Summaries of timed samples (plugins/module_utils/woody_stats.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import library_module  # noqa: E402,F401  (makes the checkout importable as ansible_collections.woodyswarm.shop)

from ansible_collections.woodyswarm.shop.plugins.module_utils.woody_stats import (  # noqa: E402
    all_ok, percentile, summarize)


def test_nearest_rank_percentiles_are_measured_values():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 50) == 3.0
    assert percentile(values, 95) == 5.0
    assert percentile(values, 20) == 1.0
    assert percentile(values, 21) == 2.0
    assert percentile([0.5, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0], 50) == 0.5


def test_one_sample_is_every_percentile():
    assert percentile([7.5], 50) == percentile([7.5], 95) == 7.5


@pytest.mark.parametrize("q", [0, -1, 101])
def test_a_rank_outside_the_range_is_refused(q):
    with pytest.raises(ValueError, match="rank"):
        percentile([1.0], q)


def test_no_samples_is_a_clear_error():
    with pytest.raises(ValueError, match="no samples"):
        summarize([])
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)


def test_summary_counts_statuses_cache_states_and_bytes():
    samples = [{"seconds": 5.01, "status": 200, "cache": "MISS", "bytes": 40},
               {"seconds": 0.002, "status": 200, "cache": "HIT", "bytes": 40},
               {"seconds": 0.003, "status": 200, "cache": "HIT", "bytes": 40},
               {"seconds": 30.0, "status": 0, "cache": "", "bytes": 0}]
    summary = summarize(samples)
    assert summary["count"] == 4
    assert (summary["min"], summary["p50"], summary["p95"], summary["max"]) == (0.002, 0.003, 30.0, 30.0)
    assert summary["statuses"] == {"0": 1, "200": 3}
    assert summary["cache"] == {"-": 1, "HIT": 2, "MISS": 1}
    assert summary["bytes"] == 40
    assert not all_ok(summary)
    assert all_ok(summarize(samples[:3]))
