"""Bad input is refused by argument validation, naming the variable, before anything changes.

Each case runs one role through ansible-playbook with one wrong value and checks that the play
fails in validation (argument spec or preflight assert) with a message naming the variable, and
that no task reported a change.
"""
from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# role, host pattern, bad variables, variable name the error must name
CASES: list[tuple[str, str, dict[str, object], str]] = [
    ("local_lab", "controller", {"local_lab_workers": -1}, "local_lab_workers"),
    ("local_lab", "controller", {"local_lab_workers": "two"}, "local_lab_workers"),
    ("local_lab", "controller", {"local_lab_state": "running"}, "local_lab_state"),
    ("local_lab", "controller", {"local_lab_subnet_prefix": "10.213.0.0"}, "local_lab_subnet_prefix"),
    ("local_lab", "controller", {"local_lab_bridge": "a-bridge-name-too-long"}, "local_lab_bridge"),
    ("local_lab", "controller",
     {"local_lab_forwards": [{"name": "site", "listen_port": 8080, "target": "192.0.2.1", "target_port": 80}]},
     "local_lab_forwards"),
    ("docker_engine", "controller", {"docker_engine_source": "snap"}, "docker_engine_source"),
    ("docker_engine", "controller", {"docker_engine_service_manager": "upstart"}, "docker_engine_service_manager"),
    ("docker_engine", "controller", {"docker_engine_wait_timeout": 0}, "docker_engine_wait_timeout"),
    ("docker_engine", "controller", {"docker_engine_host": "/var/run/docker.sock"}, "docker_engine_host"),
    ("docker_engine", "controller", {"docker_engine_insecure_registries": "10.213.0.10:5000"},
     "docker_engine_insecure_registries"),
    ("docker_engine", "controller", {"docker_engine_daemon_options": "debug=true"}, "docker_engine_daemon_options"),
    ("registry", "controller", {"registry_server": "harbor"}, "registry_server"),
    ("registry", "controller", {"registry_port": 70000}, "registry_port"),
    ("registry", "controller", {"registry_logins": [{"registry": "docker.io", "username": "u"}]}, "password"),
    ("swarm", "node2", {"swarm_advertise_addr": ""}, "swarm_advertise_addr"),
    ("swarm", "node2", {"swarm_port": 0}, "swarm_port"),
    ("swarm", "node2", {"swarm_node_labels": ["a=b"]}, "swarm_node_labels"),
    ("swarm", "node2", {"swarm_node_labels": "a=b"}, "swarm_node_labels"),
    ("local_lab", "controller", {"local_lab_insecure_registries": "10.213.0.10:5000"}, "local_lab_insecure_registries"),
    ("daemon", "controller", {"daemon_name": "x", "daemon_command": ["sleep", "1"]}, "daemon_command"),
    ("daemon", "controller", {"daemon_name": "x", "daemon_state": "restarted"}, "daemon_state"),
]


def _run_role(tmp_path: Path, role: str, hosts: str, extra: dict[str, object]) -> subprocess.CompletedProcess[str]:
    playbook = tmp_path / "play.yml"
    playbook.write_text(textwrap.dedent(f"""\
        - name: Apply {role} with bad input
          hosts: {hosts}
          gather_facts: false
          roles:
            - role: {role}
        """))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    return subprocess.run(
        ["ansible-playbook", "-i", str(ROOT / "inventory/local"), str(playbook), "-e", json.dumps(extra)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def _messages(outcome: dict) -> list[str]:
    """Failure messages of a task result; for a loop, those of the failed items only."""
    if "results" in outcome:
        return [str(item.get("msg", "")) for item in outcome["results"] if item.get("failed")]
    return [str(outcome.get("msg", ""))]


def _json_report(stdout: str) -> dict:
    """The json callback's document; other callbacks (profile_tasks) may print around it."""
    start = stdout.index("\n{") + 1 if not stdout.startswith("{") else 0
    return json.JSONDecoder().raw_decode(stdout[start:])[0]


@pytest.mark.parametrize(("role", "hosts", "extra", "variable"), CASES,
                         ids=[f"{c[0]}-{next(iter(c[2]))}" for c in CASES])
def test_bad_value_is_refused_before_any_change(tmp_path, role, hosts, extra, variable):
    result = _run_role(tmp_path, role, hosts, extra)
    assert result.returncode != 0, result.stdout[-2000:]
    report = _json_report(result.stdout)
    stats = report["stats"]
    assert all(host["changed"] == 0 for host in stats.values()), stats
    failures = [
        (task["task"]["name"].split(" : ", 1)[-1], _messages(outcome))
        for play in report["plays"] for task in play["tasks"]
        for outcome in task["hosts"].values() if outcome.get("failed")
    ]
    assert failures, "the play failed without a failed task"
    name, messages = failures[0]
    assert name.startswith(("Validating arguments", "Validate", "Check that every login")), failures
    assert any(variable in message for message in messages), failures
