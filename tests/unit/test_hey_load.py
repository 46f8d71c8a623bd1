"""hey's summary is read into status and error counts (real outputs of Debian's hey)."""
from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from hey_load import parse_summary  # noqa: E402

FIXTURES = TESTS / "fixtures" / "hey"


def summary(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_all_answered_200():
    result = parse_summary("u", summary("ok_200.txt"))
    assert result.statuses == {200: 20}
    assert not result.errors
    assert (result.total, result.failed) == (20, 0)
    assert (result.per_second, result.slowest) == (9.7788, 0.0136)
    # hey prints "0% in 0.0000 secs" where it has too few samples for the 99th percentile.
    assert result.percentiles == {10: 0.0036, 25: 0.0051, 50: 0.0061, 75: 0.0076, 90: 0.0123, 95: 0.0136}


def test_http_errors_count_as_failed():
    result = parse_summary("u", summary("not_found_404.txt"))
    assert result.statuses == {404: 10}
    assert (result.total, result.failed) == (10, 10)


def test_requests_without_answer_count_as_failed():
    result = parse_summary("u", summary("refused.txt"))
    assert not result.statuses
    assert result.errors == {
        'Get "http://127.0.0.1:18099/": dial tcp 127.0.0.1:18099: connect: connection refused': 5}
    assert (result.total, result.failed) == (5, 5)


def test_mixed_statuses_and_errors_add_up():
    text = ("Status code distribution:\n  [200]\t7 responses\n  [502]\t2 responses\n\n"
            "Error distribution:\n  [1]\tGet \"http://x/\": EOF\n")
    result = parse_summary("u", text)
    assert result.statuses == {200: 7, 502: 2}
    assert (result.total, result.failed) == (10, 3)
