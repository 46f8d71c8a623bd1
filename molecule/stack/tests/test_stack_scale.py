"""playbooks/scale.yml changes the api's replica count of the running stack and nothing else:
the stage and the images stay as deployed, no other task is replaced; bad counts are refused."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from ansible_run import ROOT, run_playbook  # noqa: E402
from lab_swarm import running_tasks, service  # noqa: E402

testinfra_hosts = ["localhost"]
SCALE = ROOT / "playbooks" / "scale.yml"
CONVERGE = Path(__file__).resolve().parents[1] / "converge.yml"
OTHERS = ("db", "front", "reverse")


def quick_knobs() -> dict:
    """The knobs the scenario deployed with (a user keeps theirs in the inventory)."""
    knobs = dict(yaml.safe_load(CONVERGE.read_text())[0]["vars"])
    knobs.pop("stack_stage")
    return knobs


def running(name: str) -> set[str]:
    return {t["ID"] for t in running_tasks(name)}


def snapshot() -> dict[str, tuple]:
    return {name: (running(name), service(name).attrs["Spec"]) for name in OTHERS}


@pytest.mark.parametrize("count", ["0", "-2", "five"])
def test_a_bad_count_is_refused_before_anything_moves(count):
    before = snapshot()
    run = run_playbook(SCALE, {**quick_knobs(), "api_replicas": count})
    assert run.returncode != 0
    assert "api_replicas must be a positive integer" in " ".join(run.failure_messages())
    assert snapshot() == before


def test_scaling_moves_only_the_api_and_keeps_stage_and_images():
    before = snapshot()
    api_spec = service("api").attrs["Spec"]
    target = 4 if api_spec["Mode"]["Replicated"]["Replicas"] != 4 else 3
    run = run_playbook(SCALE, {**quick_knobs(), "api_replicas": target}, timeout=900)
    assert run.returncode == 0, run.failure_messages() or run.output[-3000:]
    after_spec = service("api").attrs["Spec"]
    assert after_spec["Mode"]["Replicated"]["Replicas"] == target
    assert len(running("api")) == target
    assert after_spec["TaskTemplate"]["ContainerSpec"]["Image"] == api_spec["TaskTemplate"]["ContainerSpec"]["Image"]
    assert snapshot() == before  # same tasks, same specs: stage and images kept


def test_scaling_again_to_the_same_count_changes_nothing():
    count = service("api").attrs["Spec"]["Mode"]["Replicated"]["Replicas"]
    run = run_playbook(SCALE, {**quick_knobs(), "api_replicas": count}, timeout=900)
    assert run.returncode == 0, run.failure_messages()
    assert all(host["changed"] == 0 for host in run.report["stats"].values()), run.report["stats"]
