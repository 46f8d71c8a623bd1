"""The comparison table of the stages (the lab sheet's section 7.1), as Markdown, CSV and a chart."""
from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

STAGES = ("initial", "replicas", "redis", "cdn")
LABELS = {"initial": "initial", "replicas": "+ replicas", "redis": "+ Redis", "cdn": "+ CDN"}
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


def hit_p50(record: Record, key: str) -> float | None:
    """The warm p50, only when the warm runs were cache hits (no cache: no hit column)."""
    summary = record.get(key)
    if not summary or summary["cache"].get("HIT", 0) * 2 <= summary["count"]:
        return None
    return float(summary["p50"])


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
            LABELS[stage],
            str(record.get("api_replicas", "-")),
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
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(records)]
    return "\n".join(lines) + "\n"


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
    import matplotlib

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
    axes.set_xticks([x + 0.4 - width / 2 for x in range(len(stages))], [LABELS[s] for s in stages])
    axes.set_yscale("log")
    axes.set_ylabel("p50 seconds (log scale)")
    axes.set_title("WoodyToys: each stage against the initial one")
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
