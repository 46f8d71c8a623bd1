"""A second run of lab_up.yml on a lab that is up reports no change at all."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.lab


def test_lab_up_rerun_changes_nothing():
    result = subprocess.run(["ansible-playbook", "playbooks/lab_up.yml"], cwd=ROOT, capture_output=True, text=True,
                            timeout=900, check=False, env=dict(os.environ, ANSIBLE_FORCE_COLOR="0"))
    assert result.returncode == 0, result.stdout[-3000:]
    recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", result.stdout, flags=re.MULTILINE)
    assert {host for host, _ in recap} >= {"localhost", "node1", "node2", "node3"}
    assert [(host, changed) for host, changed in recap if changed != "0"] == []
