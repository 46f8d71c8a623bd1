"""Run a playbook of this project with the json callback and read its report (for tests)."""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class PlayRun:
    returncode: int
    report: dict[str, Any]
    output: str

    def changed_items(self, task_suffix: str) -> list[Any]:
        """Loop items (or host names) for which the task whose name ends with task_suffix changed."""
        found = []
        for play in self.report.get("plays", []):
            for task in play["tasks"]:
                if not task["task"]["name"].endswith(task_suffix):
                    continue
                for host, outcome in task["hosts"].items():
                    for item in outcome.get("results", [outcome]):
                        if item.get("changed"):
                            found.append(item.get("item", host))
        return found

    def failures(self) -> list[tuple[str, list[str]]]:
        """(task name without its role prefix, messages) of each failed task; for a loop, the
        messages of the failed items only."""
        found = []
        for play in self.report.get("plays", []):
            for task in play["tasks"]:
                for outcome in task["hosts"].values():
                    if not outcome.get("failed"):
                        continue
                    items = [i for i in outcome.get("results", []) if i.get("failed")] or [outcome]
                    found.append((task["task"]["name"].split(" : ", 1)[-1], [str(i.get("msg", "")) for i in items]))
        return found

    def failure_messages(self) -> list[str]:
        return [message for _, messages in self.failures() for message in messages]


def _json_report(stdout: str) -> dict[str, Any]:
    """The json callback's document; other callbacks (profile_tasks) may print around it."""
    start = 0 if stdout.startswith("{") else stdout.index("\n{") + 1
    return json.JSONDecoder().raw_decode(stdout[start:])[0]


def run_playbook(playbook: Path, extra_vars: dict[str, Any] | None = None, timeout: int = 1800,
                 extra_args: list[str] | None = None) -> PlayRun:
    # The checkout is the collection woodyswarm.shop (collections/ links back to it); the
    # collections it uses come with the PyPI ansible package (site-packages).
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
               ANSIBLE_FORCE_COLOR="0")
    argv = ["ansible-playbook", "-i", str(ROOT / "inventory/local"), str(playbook), *(extra_args or [])]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return PlayRun(done.returncode, _json_report(done.stdout), done.stdout + done.stderr)
