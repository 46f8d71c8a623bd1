"""The lab sheet's stages have one owner (plugins/module_utils/stages.py): what reads them agrees."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml
from library_module import ROOT

from ansible_collections.woodyswarm.shop.plugins.module_utils.stages import STAGES


def test_each_stage_adds_to_the_one_before():
    """Stages only add: once the api is scaled, Redis or the CDN is on, later stages keep it."""
    rows = list(STAGES.values())
    for before, after in zip(rows, rows[1:]):
        for feature in ("api_scaled", "redis", "cdn"):
            assert after[feature] >= before[feature], (feature, after["label"])
    assert len({row["label"] for row in rows}) == len(rows)


def test_the_experiment_deploys_every_stage_in_the_table_order():
    """import_playbook cannot loop: experiment.yml imports one play per stage, in the table's order."""
    plays = yaml.safe_load((ROOT / "playbooks" / "experiment.yml").read_text())
    imported = [play["vars"]["stack_stage"] for play in plays if "ansible.builtin.import_playbook" in play]
    assert imported == list(STAGES)


def test_the_lookup_gives_roles_the_same_table(tmp_path):
    playbook, out = tmp_path / "stages.yml", tmp_path / "stages.json"
    playbook.write_text(yaml.safe_dump([{
        "name": "Read the stages", "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "Write them", "ansible.builtin.copy": {"dest": str(out), "mode": "0644", "content":
                   "{{ {'names': query('woodyswarm.shop.stages'), 'cdn': lookup('woodyswarm.shop.stages', 'cdn')} | to_json }}"}}],
    }]))
    subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}",
                    str(playbook)], cwd=ROOT, capture_output=True, text=True, check=True)
    shown = json.loads(out.read_text())
    assert shown == {"names": list(STAGES), "cdn": {"name": "cdn", **STAGES["cdn"]}}


def test_an_unknown_stage_names_the_known_ones(tmp_path):
    playbook = tmp_path / "stage.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "Ask for a stage", "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "Show it", "ansible.builtin.debug": {"msg": "{{ lookup('woodyswarm.shop.stages', 'cache') }}"}}],
    }]))
    run = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", str(playbook)], cwd=ROOT,
                         capture_output=True, text=True, check=False, env={**os.environ, "ANSIBLE_NOCOLOR": "1"})
    assert run.returncode != 0
    assert f"unknown stage cache: the stages are {', '.join(STAGES)}" in run.stdout + run.stderr

