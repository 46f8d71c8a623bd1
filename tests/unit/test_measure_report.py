"""The comparison table (module_utils/woody_report.py): exact Markdown and CSV from given results."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "module_utils"))
from woody_report import chart, csv_text, latest_per_stage, markdown  # noqa: E402


def summary(p50: float, cache: dict[str, int] | None = None, count: int = 3, **extra: float) -> dict:
    return {"count": count, "min": p50, "p50": p50, "p95": p50, "max": p50, "statuses": {"200": count},
            "cache": cache or {"-": count}, "bytes": 1, **extra}


def record(stage: str, replicas: int, page: float, heavy: float, heavy_warm: float, hit: bool,
           db: float, db_warm: float, wall: float, timestamp: str = "2026-11-27T01:00:00Z") -> dict:
    cache = {"HIT": 3} if hit else {"MISS": 3}
    return {"stage": stage, "api_replicas": replicas, "timestamp": timestamp,
            "page": summary(page), "recursive": summary(16.0),
            "heavy_cold": summary(heavy), "heavy_warm": summary(heavy_warm, cache),
            "db_cold": summary(db), "db_warm": summary(db_warm, cache),
            "parallel": summary(wall, throughput_p50=5 / wall)}


RECORDS = [
    record("cdn", 5, 0.05, 5.0, 0.002, True, 15.0, 0.003, 5.0),
    record("initial", 3, 16.0, 5.0, 5.0, False, 15.0, 15.0, 10.0),
    record("redis", 5, 16.0, 5.0, 0.002, True, 15.0, 0.003, 5.0),
    record("replicas", 5, 16.0, 5.0, 5.0, False, 15.0, 15.0, 5.0),
]


def test_markdown_table_in_the_lab_sheets_shape():
    assert markdown(RECORDS) == (
        "| configuration | api replicas | full page load | recursive load (lab sheet's wget -r) | slow API miss / hit"
        " | DB API miss / hit | parallel slow requests (wall, req/s) |\n"
        "|---|---|---|---|---|---|---|\n"
        "| initial | 3 | 16.000 s | 16.000 s | 5.000 s / - | 15.000 s / - | 10.000 s, 0.50/s |\n"
        "| + replicas | 5 | 16.000 s (+0.0 %) | 16.000 s | 5.000 s / - | 15.000 s / - | 5.000 s, 1.00/s (-50.0 %) |\n"
        "| + Redis | 5 | 16.000 s (+0.0 %) | 16.000 s | 5.000 s / 0.002 s (-100.0 %) | 15.000 s / 0.003 s (-100.0 %)"
        " | 5.000 s, 1.00/s (-50.0 %) |\n"
        "| + CDN | 5 | 0.050 s (-99.7 %) | 16.000 s | 5.000 s / 0.002 s (-100.0 %) | 15.000 s / 0.003 s (-100.0 %)"
        " | 5.000 s, 1.00/s (-50.0 %) |\n")


def test_csv_has_the_raw_figures():
    assert csv_text(RECORDS[1:2]) == (
        "stage,api_replicas,page_p50,recursive_p50,heavy_miss_p50,heavy_hit_p50,db_miss_p50,db_hit_p50,"
        "parallel_wall_p50,parallel_req_per_s,timestamp\n"
        "initial,3,16.0000,16.0000,5.0000,,15.0000,,10.0000,0.5000,2026-11-27T01:00:00Z\n")


def test_the_newest_record_of_a_stage_wins():
    older = record("initial", 3, 20.0, 5.0, 5.0, False, 15.0, 15.0, 10.0, timestamp="2026-11-26T01:00:00Z")
    assert latest_per_stage([RECORDS[1], older])["initial"]["page"]["p50"] == 16.0
    assert list(latest_per_stage(RECORDS)) == ["initial", "replicas", "redis", "cdn"]


def test_missing_stages_and_measures_show_a_dash():
    lone = dict(record("redis", 5, 1.0, 5.0, 0.002, True, 15.0, 0.003, 5.0), parallel=None, recursive=None)
    line = markdown([lone]).splitlines()[2]
    assert line == "| + Redis | 5 | 1.000 s | - | 5.000 s / 0.002 s | 15.000 s / 0.003 s | - |"  # no initial: no gain


def test_an_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="unknown stage"):
        latest_per_stage([dict(RECORDS[0], stage="turbo")])


def test_chart_is_a_png(tmp_path):
    path = tmp_path / "report.png"
    chart(RECORDS, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000
