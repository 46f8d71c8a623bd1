"""The comparison table (plugins/module_utils/woody_report.py): exact Markdown, the narrow table for a terminal
and CSV from given results; the woody_report module without matplotlib."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from library_module import PACKAGE, load, run  # noqa: E402

from ansible_collections.woodyswarm.shop.plugins.module_utils.stages import STAGES  # noqa: E402
from ansible_collections.woodyswarm.shop.plugins.module_utils.woody_report import (  # noqa: E402
    WIDTH, chart, csv_text, latest_per_stage, markdown, narrow_markdown)


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
    assert list(latest_per_stage(RECORDS)) == list(STAGES)


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


NARROW = """\
| p50 [1]            |  initial | + replicas |  + Redis |    + CDN |
|--------------------|---------:|-----------:|---------:|---------:|
| api replicas       |        3 |          5 |        5 |        5 |
| page [2]           | 16.000 s |   16.000 s | 16.000 s |  0.050 s |
|   vs initial [3]   |          |     +0.0 % |   +0.0 % |  -99.7 % |
| wget -r [4]        | 16.000 s |   16.000 s | 16.000 s | 16.000 s |
| slow API miss [5]  |  5.000 s |    5.000 s |  5.000 s |  5.000 s |
| slow API hit [5]   |        - |          - |  0.002 s |  0.002 s |
|   vs initial [3]   |          |            | -100.0 % | -100.0 % |
| DB API miss [6]    | 15.000 s |   15.000 s | 15.000 s | 15.000 s |
| DB API hit [6]     |        - |          - |  0.003 s |  0.003 s |
|   vs initial [3]   |          |            | -100.0 % | -100.0 % |
| parallel wall [7]  | 10.000 s |    5.000 s |  5.000 s |  5.000 s |
|   vs initial [3]   |          |    -50.0 % |  -50.0 % |  -50.0 % |
| parallel req/s [7] |     0.50 |       1.00 |     1.00 |     1.00 |
"""
# The lab sheet's four configurations with its own timings (5 s computation, 15 s query, five
# parallel requests on one replica), and a page load over 100 s (a slow link) to widen the columns.
LAB_SHEET = [
    record("initial", 1, 117.25, 5.02, 5.01, False, 15.03, 15.02, 25.11),
    record("replicas", 5, 118.5, 5.02, 5.01, False, 15.03, 15.02, 5.04),
    record("redis", 5, 117.9, 5.02, 0.004, True, 15.03, 0.005, 5.04),
    record("cdn", 5, 17.4, 5.02, 0.004, True, 15.03, 0.005, 5.04),
]


def table_and_notes(text: str) -> tuple[list[str], list[str]]:
    table, _, notes = text.partition("\n\n")
    return table.splitlines(), notes.splitlines()


def test_narrow_table_has_the_stages_as_columns_and_one_figure_per_row():
    text = narrow_markdown(RECORDS)
    assert text.startswith(NARROW + "\n1. Each figure is the median (p50) of the newest record of each\n")


@pytest.mark.parametrize("records", [RECORDS, LAB_SHEET], ids=["quick", "lab sheet"])
def test_every_line_of_the_narrow_table_fits_an_80_column_terminal(records):
    lines = narrow_markdown(records).splitlines()
    assert max(len(line) for line in lines) <= WIDTH <= 80  # 8 more columns of indent in Ansible's output
    assert all(line == line.rstrip() for line in lines)


@pytest.mark.parametrize("records", [RECORDS, LAB_SHEET, RECORDS[2:3]], ids=["quick", "lab sheet", "one stage"])
def test_the_narrow_table_is_aligned(records):
    table, _ = table_and_notes(narrow_markdown(records))
    bars = {tuple(i for i, char in enumerate(line) if char == "|") for line in table}
    assert len(bars) == 1, table  # every row has its bars in the same columns
    assert re.fullmatch(r"\|-+(\|-+:)+\|", table[1])  # the Markdown rule: figures right-aligned


@pytest.mark.parametrize("records", [RECORDS, LAB_SHEET, RECORDS[2:3]], ids=["quick", "lab sheet", "one stage"])
def test_every_footnote_mark_has_its_footnote(records):
    table, notes = table_and_notes(narrow_markdown(records))
    marks = {int(mark) for line in table for mark in re.findall(r"\[(\d)\]", line)}
    numbered = [int(line.split(".")[0]) for line in notes if not line.startswith(" ")]
    assert numbered == sorted(marks) == list(range(1, len(marks) + 1))
    assert len(notes) > len(numbered)  # long explanations wrap below the table, not in it


def test_without_an_initial_stage_the_change_rows_are_left_out():
    table, notes = table_and_notes(narrow_markdown(RECORDS[2:3]))
    assert [line.split(" | ")[0] for line in table][2:] == [
        "| api replicas      ", "| page [2]          ", "| wget -r [3]       ", "| slow API miss [4] ",
        "| slow API hit [4]  ", "| DB API miss [5]   ", "| DB API hit [5]    ", "| parallel wall [6] ",
        "| parallel req/s [6]"]
    assert not any("vs initial" in line for line in notes)


class BlockDumper(yaml.SafeDumper):
    """Strings with newlines as literal blocks, as Ansible's yaml result format asks (PyYAML falls
    back to a folded, quoted scalar when a line ends with a space)."""


BlockDumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))


def test_the_narrow_table_prints_as_a_literal_block_line_by_line():
    text = narrow_markdown(LAB_SHEET)
    shown = yaml.dump({"msg": text}, Dumper=BlockDumper, width=80)
    assert shown.splitlines() == ["msg: |"] + [f"  {line}" if line else "" for line in text.splitlines()]


def test_the_module_returns_both_tables_and_without_matplotlib_asks_for_it_only_for_the_chart(tmp_path, monkeypatch):
    for stage in ("initial", "redis"):
        (tmp_path / f"{stage}.json").write_text(json.dumps([r for r in RECORDS if r["stage"] == stage]))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    monkeypatch.delitem(sys.modules, f"{PACKAGE}.module_utils.woody_report", raising=False)  # imported afresh
    report = load("woody_report")
    code, result = run(report, {"results_dir": str(tmp_path)})
    assert code == 1
    assert result["msg"].startswith("Failed to import the required Python library (matplotlib (Debian: "
                                    "python3-matplotlib))") and "chart=false writes the table" in result["msg"]
    assert not (tmp_path / "report.md").exists()
    code, result = run(report, {"results_dir": str(tmp_path), "chart": False})
    assert code == 0, result["msg"]
    assert result["table"] == (tmp_path / "report.md").read_text() == markdown(RECORDS[1:3])
    assert result["narrow_table"] == narrow_markdown(RECORDS[1:3])
    assert result["files"] == [str(tmp_path / "report.md"), str(tmp_path / "report.csv")]


def test_an_api_count_scaled_by_hand_is_marked_as_such_not_taken_for_another_stage():
    scaled = {**record("initial", 5, 16.0, 5.0, 5.0, False, 15.0, 15.0, 5.0), "stage_api_replicas": 3}
    as_deployed = {**record("redis", 5, 16.0, 5.0, 0.002, True, 15.0, 0.003, 5.0), "stage_api_replicas": 5}
    assert markdown([scaled, as_deployed]).splitlines()[2].startswith("| initial | 5 (scaled by hand) | ")
    assert "| + Redis | 5 | " in markdown([scaled, as_deployed])
    narrow = narrow_markdown([scaled, as_deployed])
    assert "5 (by hand)" in narrow and max(len(line) for line in narrow.splitlines()) <= 80


def test_an_app_without_a_cache_header_has_its_hits_told_by_time():
    """The lab sheet's app sends no X-Cache: a warm median under a tenth of the miss's is a hit,
    and the footnote says so; one that is not that fast is no hit."""
    def headerless(stage: str, heavy_warm: float, db_warm: float) -> dict:
        row = record(stage, 5, 1.0, 2.0, heavy_warm, False, 3.0, db_warm, 2.0)
        row["heavy_warm"], row["db_warm"] = summary(heavy_warm), summary(db_warm)
        return row

    records = [headerless("initial", 1.9, 2.9), headerless("redis", 0.02, 2.8)]
    text = narrow_markdown(records)
    hit_rows = {line.split("|")[1].strip().split(" [")[0]: line for line in text.splitlines() if " hit [" in line}
    assert hit_rows["slow API hit"].rstrip(" |").endswith("0.020 s")
    assert "-" in hit_rows["slow API hit"].split("|")[2]  # the initial stage: no cache, no hit
    assert "DB API hit" in hit_rows and "0.0" not in hit_rows["DB API hit"]  # 2.8 s of 3.0 s: no hit
    assert "hit told by time: the app's answers name no cache state" in " ".join(text.split())
    assert "hit told by time" not in narrow_markdown(RECORDS)


def test_assets_outside_the_cluster_are_listed_under_the_table():
    records = [record("initial", 3, 1.0, 2.0, 2.0, False, 3.0, 3.0, 2.0)]
    records[0]["page"]["outside"] = ["https://cdn.jsdelivr.net/npm/bootstrap.min.css"]
    table, notes = table_and_notes(narrow_markdown(records))
    page_row = next(line for line in table if line.startswith("| page "))
    number = re.findall(r"\[(\d)\]", page_row)[-1]
    assert f"{number}. page: left out, on hosts outside the cluster (not measured): https://cdn.jsdelivr.net/npm/bootstrap.min.css." \
        in " ".join(" ".join(notes).split())


def test_misses_taken_after_the_entrys_expiry_say_so():
    records = [record("redis", 5, 1.0, 2.0, 0.01, True, 3.0, 0.01, 2.0)]
    records[0].update(cold_by="expiry", cold_wait_seconds=31)
    text = " ".join(narrow_markdown(records).split())
    assert "taken after the entry's expiry (31 s apart), because the app's cache key ignores the name" in text
    assert "entry's expiry" not in narrow_markdown(RECORDS)


def test_report_md_says_under_its_table_how_this_apps_figures_were_taken():
    """report.md, the file a student hands in, carries the same notes as the printed table where
    they apply (hits by time, misses after the expiry, assets left out), and none for our shop."""
    lab_sheet = record("redis", 5, 1.0, 2.0, 0.004, False, 1.0, 0.003, 2.0)
    lab_sheet["heavy_warm"], lab_sheet["db_warm"] = summary(0.004), summary(0.003)
    lab_sheet.update(cold_by="expiry", cold_wait_seconds=31)
    lab_sheet["page"]["outside"] = ["https://cdn.jsdelivr.net/npm/bootstrap.min.css"]
    table, _, *notes = markdown([lab_sheet]).rstrip("\n").split("\n")[2:]
    assert table.startswith("| + Redis | 5 | ") and "2.000 s / 0.004 s" in table
    assert [note.split(":")[0] for note in notes] == ["- hit told by time", "- slow API miss (and parallel), where the stage runs a cache",
                                                      "- page"]
    assert "(31 s apart)" in notes[1] and notes[2].endswith("https://cdn.jsdelivr.net/npm/bootstrap.min.css.")
    assert markdown(RECORDS).rstrip("\n").split("\n")[-1].startswith("| ")
