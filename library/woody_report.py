#!/usr/bin/python
"""Ansible module: write the comparison table of the measured stages (Markdown, CSV, PNG)."""
from __future__ import annotations

import json
from pathlib import Path

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.woody_report import chart, csv_text, markdown

DOCUMENTATION = r"""
module: woody_report
short_description: Render report.md, report.csv and report.png from the results of each stage
description:
  - Reads every C(<stage>.json) (a JSON list of measure records) in O(results_dir), keeps the
    newest record of each stage, and writes the table in the lab sheet's shape.
options:
  results_dir: {type: path, required: true}
  chart: {type: bool, default: true, description: also draw report.png (matplotlib)}
"""


def main() -> None:
    module = AnsibleModule(argument_spec={"results_dir": {"type": "path", "required": True},
                                          "chart": {"type": "bool", "default": True}})
    folder = Path(module.params["results_dir"])
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            records += json.loads(path.read_text())
        except (OSError, ValueError) as error:
            module.fail_json(msg=f"woody_report: cannot read {path}: {error}")
    if not records:
        module.fail_json(msg=f"woody_report: no results in {folder} (run measure.yml first)")
    table = markdown(records)
    written = {"md": folder / "report.md", "csv": folder / "report.csv"}
    before = {key: p.read_text() if p.exists() else None for key, p in written.items()}
    written["md"].write_text(table)
    written["csv"].write_text(csv_text(records))
    if module.params["chart"]:
        chart(records, str(folder / "report.png"))
    changed = any(before[key] != written[key].read_text() for key in written)
    module.exit_json(changed=changed, table=table, files=[str(p) for p in written.values()]
                     + ([str(folder / "report.png")] if module.params["chart"] else []))


if __name__ == "__main__":
    main()
