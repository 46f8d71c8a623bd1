#!/usr/bin/python
"""Ansible module: write the comparison table of the measured stages (Markdown, CSV, PNG)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.woody_report import STAGES, chart, csv_text, markdown

DOCUMENTATION = r"""
module: woody_report
short_description: Render report.md, report.csv and report.png from the results of each stage
description:
  - Reads C(initial.json), C(replicas.json), C(redis.json) and C(cdn.json) (each a JSON list of
    measure records) in O(results_dir); other files there are left alone. Keeps the newest record
    of each stage and writes the table in the lab sheet's shape.
  - Fails, naming the file, when a stage file is not a list of records of that stage.
options:
  results_dir: {type: path, required: true}
  chart: {type: bool, default: true, description: also draw report.png (matplotlib)}
"""

RETURN = r"""
table:
  description: The Markdown table written to report.md.
  type: str
  returned: success
files:
  description: The files written.
  type: list
  returned: success
"""

REQUIRED = ("stage", "timestamp")


def stage_records(path: Path, stage: str) -> list[dict[str, Any]]:
    """The records of one stage file; ValueError naming what is wrong with it."""
    try:
        records = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {path}: {error}") from error
    if not isinstance(records, list):
        raise ValueError(f"{path} must hold a JSON list of records, not a {type(records).__name__}")
    for index, record in enumerate(records):
        missing = [key for key in REQUIRED if not isinstance(record, dict) or key not in record]
        if missing:
            raise ValueError(f"{path}: record {index} lacks {', '.join(missing)}")
        if record["stage"] != stage:
            raise ValueError(f"{path}: record {index} is of stage {record['stage']!r}, not {stage!r}")
    return records


def main() -> None:
    module = AnsibleModule(argument_spec={"results_dir": {"type": "path", "required": True},
                                          "chart": {"type": "bool", "default": True}})
    folder = Path(module.params["results_dir"])
    records: list[dict[str, Any]] = []
    try:
        for stage in STAGES:
            if (folder / f"{stage}.json").exists():
                records += stage_records(folder / f"{stage}.json", stage)
    except ValueError as error:
        module.fail_json(msg=f"woody_report: {error}")
    if not records:
        module.fail_json(msg=f"woody_report: no results in {folder} (run measure.yml first)")
    try:
        table = markdown(records)
        figures = csv_text(records)
    except (KeyError, TypeError, ValueError) as error:
        module.fail_json(msg=f"woody_report: a record in {folder} is incomplete or malformed: {error!r}")
    written = {"md": folder / "report.md", "csv": folder / "report.csv"}
    before = {key: p.read_text() if p.exists() else None for key, p in written.items()}
    written["md"].write_text(table)
    written["csv"].write_text(figures)
    if module.params["chart"]:
        chart(records, str(folder / "report.png"))
    changed = any(before[key] != written[key].read_text() for key in written)
    module.exit_json(changed=changed, table=table, files=[str(p) for p in written.values()]
                     + ([str(folder / "report.png")] if module.params["chart"] else []))


if __name__ == "__main__":
    main()
