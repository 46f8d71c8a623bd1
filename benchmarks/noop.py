#!/usr/bin/env python3
"""Benchmark of reruns that have nothing to do (not a test): wall time, changed count and the
five slowest tasks of site.yml twice, then stage.yml twice, on the embedded lab.

    python benchmarks/noop.py                        # the lab sheet's values, stage initial
    python benchmarks/noop.py -e @/tmp/quick.yml     # extra vars for every run (stage included)

The first run of each pair may change things (it brings the lab where the vars say); the second
is the no-op rerun whose figures matter (issue: second site.yml <= 60 s, second stage.yml <= 30 s).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ansible_run import ROOT, PlayRun, run_playbook  # noqa: E402


def _seconds(duration: dict[str, str]) -> float:
    start, end = (datetime.fromisoformat(duration[k].replace("Z", "+00:00")) for k in ("start", "end"))
    return (end - start).total_seconds()


def slowest_tasks(report: dict[str, Any], count: int = 5) -> list[tuple[float, str]]:
    """(seconds, name) of the ``count`` slowest tasks; a task run in several plays counts once per play."""
    tasks: dict[str, float] = defaultdict(float)
    for play in report.get("plays", []):
        for task in play["tasks"]:
            tasks[f"{play['play']['name']} / {task['task']['name']}"] += _seconds(task["task"]["duration"])
    return sorted(((seconds, name) for name, seconds in tasks.items()), reverse=True)[:count]


def changed_count(report: dict[str, Any]) -> int:
    return sum(host["changed"] for host in report.get("stats", {}).values())


def timed(playbook: Path, extra_vars: dict[str, Any], extra_args: list[str]) -> tuple[float, PlayRun]:
    started = time.monotonic()
    run = run_playbook(playbook, extra_vars, timeout=1800, extra_args=extra_args)
    return time.monotonic() - started, run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-e", "--extra-vars", action="append", default=[],
                        help="passed to ansible-playbook as -e (repeatable), e.g. @/tmp/quick.yml")
    args = parser.parse_args()
    # stage.yml asks for a stage: initial unless the extra vars name one (a later -e wins).
    extra_args = ["-e", "stack_stage=initial", *(arg for value in args.extra_vars for arg in ("-e", value))]
    failed = False
    for playbook in (ROOT / "site.yml", ROOT / "site.yml", ROOT / "playbooks/stage.yml", ROOT / "playbooks/stage.yml"):
        seconds, run = timed(playbook, {}, extra_args)
        print(f"{playbook.relative_to(ROOT)}: {seconds:.1f} s, changed={changed_count(run.report)}, "
              f"rc={run.returncode}")
        for task_seconds, name in slowest_tasks(run.report):
            print(f"    {task_seconds:6.1f} s  {name}")
        if run.returncode != 0:
            print("    failed: " + "; ".join(run.failure_messages())[:2000])
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
