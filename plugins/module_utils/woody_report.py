# Copyright (c) woodyswarm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The comparison table of the stages (the lab sheet's section 7.1), as Markdown, CSV and a chart."""
from __future__ import annotations

import csv
import io
import textwrap
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ansible_collections.woodyswarm.shop.plugins.module_utils.stages import STAGES

try:
    import matplotlib
except ImportError:
    MATPLOTLIB_IMPORT_ERROR: str | None = traceback.format_exc()  # chart() needs it; the tables do not
else:
    MATPLOTLIB_IMPORT_ERROR = None

HEADER = ("configuration", "api replicas", "full page load", "recursive load (lab sheet's wget -r)",
          "slow API miss / hit", "DB API miss / hit", "parallel slow requests (wall, req/s)")

Record = Mapping[str, Any]


def latest_per_stage(records: Sequence[Record]) -> dict[str, Record]:
    """The newest record of each stage, in stage order (ISO-8601 UTC timestamps sort as text)."""
    newest: dict[str, Record] = {}
    for record in records:
        stage = record["stage"]
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r} in the results")
        if stage not in newest or record["timestamp"] >= newest[stage]["timestamp"]:
            newest[stage] = record
    return {stage: newest[stage] for stage in STAGES if stage in newest}


def p50(record: Record, key: str) -> float | None:
    summary = record.get(key)
    return None if not summary else float(summary["p50"])


# The cold timing each warm one is a hit of.
COLD_OF = {"heavy_warm": "heavy_cold", "db_warm": "db_cold"}
# An app that names no cache state (no X-Cache header: the lab sheet's) has its warm runs taken
# as hits when their median is under this share of the cold runs' median of the same record.
HIT_BY_TIME = 0.1


def hit_by_time(record: Record, key: str) -> bool:
    """Whether the warm runs carry no cache header, so that a hit can only be told by its time."""
    summary = record.get(key)
    return bool(summary) and set(summary["cache"]) <= {"-"}


def hit_p50(record: Record, key: str) -> float | None:
    """The warm p50, only when the warm runs were cache hits (no cache: no hit column): by the
    cache header the answers carry, or, without one, by their time against the cold runs."""
    summary = record.get(key)
    if not summary:
        return None
    warm = float(summary["p50"])
    if hit_by_time(record, key):
        cold = p50(record, COLD_OF[key])
        return warm if cold and warm < HIT_BY_TIME * cold else None
    if summary["cache"].get("HIT", 0) * 2 <= summary["count"]:
        return None
    return warm


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def gain(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return ""
    return f" ({(value - base) / base * 100:+.1f} %)"


def rows(records: Sequence[Record]) -> list[list[str]]:
    stages = latest_per_stage(records)
    base = stages.get("initial", {})
    table = []
    for stage, record in stages.items():
        vs = stage != "initial"
        page = p50(record, "page")
        heavy_hit, db_hit = hit_p50(record, "heavy_warm"), hit_p50(record, "db_warm")
        wall = p50(record, "parallel")
        parallel = record.get("parallel")
        table.append([
            STAGES[stage]["label"],
            replicas(record, "scaled by hand"),
            seconds(page) + (gain(page, p50(base, "page")) if vs else ""),
            seconds(p50(record, "recursive")),
            f"{seconds(p50(record, 'heavy_cold'))} / {seconds(heavy_hit)}"
            + (gain(heavy_hit, p50(base, "heavy_cold")) if vs else ""),
            f"{seconds(p50(record, 'db_cold'))} / {seconds(db_hit)}" + (gain(db_hit, p50(base, "db_cold")) if vs else ""),
            "-" if not parallel else
            f"{seconds(wall)}, {parallel['throughput_p50']:.2f}/s" + (gain(wall, p50(base, "parallel")) if vs else ""),
        ])
    return table


def markdown(records: Sequence[Record]) -> str:
    """The wide table (report.md), then how this app's figures were taken where that differs from
    our shop's (hits by time, misses after an expiry, assets left out), one note a line."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(records)]
    notes = method_notes(latest_per_stage(records))
    return "\n".join(lines + ([""] + [f"- {text}" for text in notes.values()] if notes else [])) + "\n"


# The table for a terminal: the configurations as columns, one figure per row, explanations as
# footnotes. WIDTH leaves room for the 8 columns Ansible's yaml output indents a string block by.
WIDTH = 72
NOTES = {
    "p50": "Each figure is the median (p50) of the newest record of each configuration; "
           "- means not measured, or, for a hit, that the warm runs were not cache hits.",
    "page": "page: the full page load, the HTML and every asset it references, one after the other "
            "on fresh connections (a first visit).",
    "gain": "vs initial: the change against the initial configuration's figure; a hit is compared "
            "with the initial miss.",
    "wget": "wget -r: the lab sheet's recursive load (wget -r -np), which follows the page's own host only.",
    "heavy": "slow API: the computation endpoint; miss: a new name each request, hit: one name, "
             "primed first.",
    "db": "DB API: the query endpoint; miss: a product added before each read, hit: reads again, "
          "primed first.",
    "by_time": f"hit told by time: the app's answers name no cache state (no X-Cache header), so warm "
               f"runs count as hits when their median is under {HIT_BY_TIME:.0%} of the miss's.",
    "expiry": "slow API miss (and parallel), where the stage runs a cache: taken after the entry's expiry "
              "(WAIT s apart), because the app's cache key ignores the name; a new name would be a hit.",
    "parallel": "parallel: slow requests started at once, each with its own name; wall: until the "
                "last one answered; req/s: requests per second at that wall time.",
}


def replicas(record: Record, note: str) -> str:
    """The api count measured, with ``note`` when it is not the stage's own (scale.yml)."""
    count, of_stage = record.get("api_replicas", "-"), record.get("stage_api_replicas")
    return f"{count} ({note})" if of_stage is not None and str(of_stage) != str(count) else str(count)


Figure = tuple[str, str, Callable[[Record, Record], str]]
FIGURES: tuple[Figure, ...] = (
    ("api replicas", "", lambda r, b: replicas(r, "by hand")),
    ("page", "page", lambda r, b: seconds(p50(r, "page"))),
    ("  vs initial", "gain", lambda r, b: change(p50(r, "page"), p50(b, "page"))),
    ("wget -r", "wget", lambda r, b: seconds(p50(r, "recursive"))),
    ("slow API miss", "heavy", lambda r, b: seconds(p50(r, "heavy_cold"))),
    ("slow API hit", "heavy", lambda r, b: seconds(hit_p50(r, "heavy_warm"))),
    ("  vs initial", "gain", lambda r, b: change(hit_p50(r, "heavy_warm"), p50(b, "heavy_cold"))),
    ("DB API miss", "db", lambda r, b: seconds(p50(r, "db_cold"))),
    ("DB API hit", "db", lambda r, b: seconds(hit_p50(r, "db_warm"))),
    ("  vs initial", "gain", lambda r, b: change(hit_p50(r, "db_warm"), p50(b, "db_cold"))),
    ("parallel wall", "parallel", lambda r, b: seconds(p50(r, "parallel"))),
    ("  vs initial", "gain", lambda r, b: change(p50(r, "parallel"), p50(b, "parallel"))),
    ("parallel req/s", "parallel",
     lambda r, b: f"{r['parallel']['throughput_p50']:.2f}" if r.get("parallel") else "-"),
)


# The rows of hits, and the warm timing each shows.
HIT_ROWS = {"slow API hit": "heavy_warm", "DB API hit": "db_warm"}


def change(value: float | None, base: float | None) -> str:
    return "" if value is None or not base else f"{(value - base) / base * 100:+.1f} %"


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Markdown table lines, the first row as header: first column left, the others right-aligned."""
    widths = [max(3, *(len(row[i]) for row in rows)) for i in range(len(rows[0]))]

    def line(row: Sequence[str]) -> str:
        cells = [cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        return "| " + " | ".join(cells) + " |"

    rule = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return [line(rows[0]), rule] + [line(row) for row in rows[1:]]


def narrow_markdown(records: Sequence[Record]) -> str:
    """The comparison as one aligned Markdown table within WIDTH columns, then numbered footnotes."""
    stages = latest_per_stage(records)
    base = stages.get("initial", {})
    numbers: dict[str, int] = {}

    def marked(label: str, note: str) -> str:
        if not note:
            return label
        number = numbers.setdefault(note, len(numbers) + 1)
        return f"{label} [{number}]"

    table = [[marked("p50", "p50"), *(STAGES[stage]["label"] for stage in stages)]]
    for label, note, cell in FIGURES:
        cells = [cell(record, {} if stage == "initial" else base) for stage, record in stages.items()]
        if any(cells):  # a change row with no initial configuration to compare with: left out
            warm = HIT_ROWS.get(label)
            by_time = warm is not None and hits_told_by_time(stages, warm)
            table.append([marked(marked(label, note), "by_time" if by_time else ""), *cells])
    methods = method_notes(stages)
    for row in table:
        if "outside" in methods and row[0].startswith("page "):
            row[0] = marked(row[0], "outside")
        if "expiry" in methods and row[0].startswith("slow API miss"):
            row[0] = marked(row[0], "expiry")
    notes = {**NOTES, **methods}
    footnotes = [textwrap.fill(f"{number}. {notes[note]}", WIDTH, subsequent_indent=" " * len(f"{number}. "),
                               break_on_hyphens=False, break_long_words=True)
                 for note, number in numbers.items()]
    return "\n".join(aligned(table) + [""] + footnotes) + "\n"


def hits_told_by_time(stages: dict[str, Record], warm: str) -> bool:
    """Whether some stage's warm timing ``warm`` is shown as a hit told by its time."""
    return any(hit_by_time(record, warm) and hit_p50(record, warm) is not None for record in stages.values())


def method_notes(stages: dict[str, Record]) -> dict[str, str]:
    """The notes on how the figures were taken that apply to these stages: hits told by time,
    misses taken after the entry's expiry, page assets left out."""
    notes = {}
    if any(hits_told_by_time(stages, warm) for warm in HIT_ROWS.values()):
        notes["by_time"] = NOTES["by_time"]
    waits = sorted({int(record.get("cold_wait_seconds", 0)) for record in stages.values()
                    if record.get("cold_by") == "expiry"})
    if waits:
        notes["expiry"] = NOTES["expiry"].replace("WAIT", "/".join(map(str, waits)))
    outside = sorted({url for record in stages.values() for url in (record.get("page") or {}).get("outside", [])})
    if outside:
        notes["outside"] = "page: left out, on hosts outside the cluster (not measured): " + ", ".join(outside) + "."
    return notes


def csv_text(records: Sequence[Record]) -> str:
    """One line per stage with the raw p50 figures in seconds (empty when not measured)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["stage", "api_replicas", "page_p50", "recursive_p50", "heavy_miss_p50", "heavy_hit_p50",
                     "db_miss_p50", "db_hit_p50", "parallel_wall_p50", "parallel_req_per_s", "timestamp"])
    for stage, record in latest_per_stage(records).items():
        figures = [p50(record, "page"), p50(record, "recursive"), p50(record, "heavy_cold"),
                   hit_p50(record, "heavy_warm"), p50(record, "db_cold"), hit_p50(record, "db_warm"),
                   p50(record, "parallel"),
                   record["parallel"]["throughput_p50"] if record.get("parallel") else None]
        writer.writerow([stage, record.get("api_replicas", "")]
                        + ["" if f is None else f"{f:.4f}" for f in figures] + [record["timestamp"]])
    return out.getvalue()


def chart(records: Sequence[Record], path: str) -> None:
    """Grouped bars of the p50 figures per stage, on a log scale (hits are milliseconds)."""
    if MATPLOTLIB_IMPORT_ERROR is not None:
        raise ImportError(f"the chart needs matplotlib:\n{MATPLOTLIB_IMPORT_ERROR}")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = latest_per_stage(records)
    series = {"full page": lambda r: p50(r, "page"), "slow API miss": lambda r: p50(r, "heavy_cold"),
              "slow API hit": lambda r: hit_p50(r, "heavy_warm"), "DB API miss": lambda r: p50(r, "db_cold"),
              "DB API hit": lambda r: hit_p50(r, "db_warm"), "parallel wall": lambda r: p50(r, "parallel")}
    figure, axes = plt.subplots(figsize=(10, 5))
    width = 0.8 / len(series)
    for i, (label, pick) in enumerate(series.items()):
        values = [pick(record) or 0 for record in stages.values()]
        axes.bar([x + i * width for x in range(len(stages))], values, width, label=label)
    axes.set_xticks([x + 0.4 - width / 2 for x in range(len(stages))], [STAGES[s]["label"] for s in stages])
    axes.set_yscale("log")
    axes.set_ylabel("p50 seconds (log scale)")
    axes.set_title("WoodyToys: each stage against the initial one")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
