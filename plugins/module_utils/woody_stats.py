# Copyright (c) woodyswarm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Summaries of timed samples: min / p50 / p95 / max, status codes, cache states, bytes."""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (the smallest value with at least q % of the values at or below
    it): always one of the measured values, never an interpolation between two runs."""
    if not values:
        raise ValueError("percentile of no samples")
    if not 0 < q <= 100:
        raise ValueError(f"percentile rank must be in (0, 100], got {q}")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]


def summarize(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Samples are {seconds, status, cache, bytes}; seconds of every sample count, failed or not."""
    if not samples:
        raise ValueError("no samples to summarize")
    seconds = [float(s["seconds"]) for s in samples]
    return {
        "count": len(samples),
        "min": min(seconds),
        "p50": percentile(seconds, 50),
        "p95": percentile(seconds, 95),
        "max": max(seconds),
        "statuses": dict(sorted(Counter(str(s.get("status", 0)) for s in samples).items())),
        "cache": dict(sorted(Counter(str(s.get("cache") or "-") for s in samples).items())),
        "bytes": max(int(s.get("bytes", 0)) for s in samples),
    }


def all_ok(summary: Mapping[str, Any]) -> bool:
    """Every sample answered 2xx."""
    return all(code.startswith("2") for code in summary["statuses"])
