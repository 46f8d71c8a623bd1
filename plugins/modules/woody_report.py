#!/usr/bin/python
# Copyright (c) woodyswarm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: write the comparison table of the measured stages (Markdown, CSV, PNG)."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: woody_report
short_description: Render the comparison table of the measured stages (report.md, report.csv, report.png)
description:
  - Reads C(<stage>.json) for each of the lab sheet's stages (the lookup P(woodyswarm.shop.stages#lookup)
    lists them; each file a JSON list of measure records) in O(results_dir); other files there are
    left alone. Keeps the newest record of each stage.
  - Writes C(report.md) (the table in the lab sheet's shape, one row per stage), C(report.csv) (the
    raw p50 figures) and, with O(chart), C(report.png); returns the table, and the same figures
    as a narrow table for a terminal (RV(narrow_table)).
  - Fails, naming the file, when a stage file is not a list of records of that stage.
author:
  - woodyswarm maintainers (!UNKNOWN)
requirements:
  - matplotlib, only with O(chart=true)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: none
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  results_dir:
    description: The folder of the stage files, where the reports are written.
    type: path
    required: true
  chart:
    description: Also draw C(report.png), grouped bars of the p50 figures on a log scale.
    type: bool
    default: true
seealso:
  - module: woodyswarm.shop.woody_measure
"""

EXAMPLES = r"""
---
- name: Write the comparison table
  woodyswarm.shop.woody_report:
    results_dir: "{{ playbook_dir }}/build/results"
  register: report

# A single string: the yaml result format prints it as a block, line by line, unfolded.
- name: Show the comparison table
  ansible.builtin.debug:
    msg: "{{ report.narrow_table }}"
"""

RETURN = r"""
---
table:
  description: The Markdown table written to C(report.md), one row per stage (wider than a terminal).
  type: str
  returned: success
narrow_table:
  description:
    - The same figures as one aligned Markdown table, the stages as columns and one figure per
      row, followed by numbered footnotes that explain the figures.
    - No line is wider than 72 columns (80 once Ansible's yaml output indents it).
  type: str
  returned: success
files:
  description: The files written.
  type: list
  elements: str
  returned: success
  sample: [build/results/report.md, build/results/report.csv, build/results/report.png]
"""

import json
from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.woodyswarm.shop.plugins.module_utils.stages import STAGES
from ansible_collections.woodyswarm.shop.plugins.module_utils.woody_report import (
    MATPLOTLIB_IMPORT_ERROR, chart, csv_text, markdown, narrow_markdown)

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "results_dir": {"type": "path", "required": True},
    "chart": {"type": "bool", "default": True},
}

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
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC)
    if module.params["chart"] and MATPLOTLIB_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("matplotlib (Debian: python3-matplotlib)", reason="to draw report.png "
                                                  "(chart=true); chart=false writes the table and the CSV only"),
                         exception=MATPLOTLIB_IMPORT_ERROR)
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
        narrow_table = narrow_markdown(records)
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
    module.exit_json(changed=changed, table=table, narrow_table=narrow_table, files=[str(p) for p in written.values()]
                     + ([str(folder / "report.png")] if module.params["chart"] else []))


if __name__ == "__main__":
    main()
