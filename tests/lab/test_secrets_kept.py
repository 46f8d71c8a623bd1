"""Secrets kept: after a full site.yml whose database, registry and Redis passwords come from
ansible-vault (the api's database user's too), no password is found in the play's verbose output (-vvv), in any file the roles
rendered on the controller and the nodes, in the containers' configuration, in the Docker
configs or in `docker service inspect`; the database port is not published outside the
overlay network. The site's TLS key is looked for too. Runs on the lab (a full site.yml: lab, images, stack)."""
from __future__ import annotations

import base64
import os
import re
import secrets
import socket
import string
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ansible_run import ROOT  # noqa: E402
from lab_registry import USERNAME, get  # noqa: E402

pytestmark = pytest.mark.lab

STORE = Path("/var/lib/woodyswarm/secrets")
NODES = ["node1", "node2", "node3"]
NODE_ADDRESSES = ["10.213.0.11", "10.213.0.12", "10.213.0.13"]
# Where the roles render or log on this machine and the lab's nodes (the store itself excluded:
# it is the lab's stand-in for a vault).
# A node's private folders (its /root, /etc/ssh, /var/lib/woodyswarm, logs) are bound from
# /var/lib/woodylab/<node>: the controller reads them there.
LAB = Path("/var/lib/woodylab")
SCANNED = [ROOT, Path("/etc/woodylab"), Path("/etc/docker"), Path("/var/lib/woodyswarm"),
           Path("/run/woodylab"), Path("/var/log/woodylab"), Path("/var/log/woodyswarm"), LAB]
# Skipped: the engines' data (their containers' records are read below), the registry's blobs,
# and each node's Docker client credentials (~/.docker/config.json: where `docker login` keeps
# them on any host, the controller's own included).
# The lab's authority holds the site's key (roles/local_lab): like the store, a vault stand-in.
CA_DIR = Path("/var/lib/woodyswarm/lab/ca")
SKIPPED = [ROOT / ".venv", ROOT / ".git", STORE, CA_DIR, LAB / "registry"] + [
    LAB / node / part for node in NODES for part in ("docker", "root/.docker")]
BIGGEST = 20 * 1024 * 1024


def lab_password(name: str) -> str:
    """The lab's current password: the database volume keeps the first one it was given and the
    registry checks the one in its htpasswd, so the vault must hold these very values."""
    path = STORE / name
    if not path.exists():
        STORE.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text("".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24)))
        path.chmod(0o600)
    return path.read_text().split()[0]


class Passwords(dict):
    """The passwords under test; a failing test prints its arguments, never their values."""

    def __repr__(self) -> str:
        return f"<passwords of {', '.join(self)}>"


@dataclass
class SiteRun:
    returncode: int
    output: str = field(repr=False)


@pytest.fixture(scope="module")
def passwords() -> Passwords:
    # The site's private key by its first line of base64 (a PEM is folded: a whole-key needle
    # would miss a file that keeps the folds).
    key_line = next(line for line in (CA_DIR / "site.key").read_text().splitlines() if "-----" not in line)
    return Passwords(database=lab_password("db_root_password"), database_app=lab_password("db_app_password"),
                     registry=lab_password("registry_password"), redis=lab_password("redis_password"),
                     site_key=key_line)


def needles(passwords: Passwords) -> dict[str, bytes]:
    """Each password as it could leak: plain, base64, and the registry's basic-auth token."""
    found: dict[str, bytes] = {}
    for name, value in passwords.items():
        found[name] = value.encode()
        found[f"{name} (base64)"] = base64.b64encode(value.encode())
    found["registry (basic auth)"] = base64.b64encode(f"{USERNAME}:{passwords['registry']}".encode())
    return found


def leaks(text: bytes, passwords: Passwords) -> list[str]:
    return [name for name, needle in needles(passwords).items() if needle in text]


@pytest.fixture(scope="module")
def site_run(tmp_path_factory, passwords) -> SiteRun:
    work = tmp_path_factory.mktemp("vault")
    vault_password = work / "vault-password"
    vault_password.write_text(secrets.token_hex(16))
    vault_password.chmod(0o600)
    vault = work / "vault.yml"
    plain = (f'vault_db_root_password: "{passwords["database"]}"\nvault_registry_password: "{passwords["registry"]}"\n'
             f'vault_redis_password: "{passwords["redis"]}"\nvault_db_app_password: "{passwords["database_app"]}"\n')
    subprocess.run(["ansible-vault", "encrypt", "--vault-password-file", str(vault_password), "--output", str(vault)],
                   input=plain, text=True, check=True, capture_output=True)
    assert vault.read_text().startswith("$ANSIBLE_VAULT;") and not leaks(vault.read_bytes(), passwords)
    from_vault = work / "from-vault.yml"
    from_vault.write_text('stack_db_password: "{{ vault_db_root_password }}"\n'
                          'stack_db_app_password: "{{ vault_db_app_password }}"\n'
                          'woody_registry_password: "{{ vault_registry_password }}"\n'
                          'stack_redis_password: "{{ vault_redis_password }}"\n')
    # The stack scenario's quick knobs: the images built here are the ones it deploys.
    knobs = yaml.safe_load((ROOT / "molecule" / "stack" / "converge.yml").read_text())[0]["vars"]
    knobs.pop("stack_stage")
    quick = work / "quick.yml"
    quick.write_text(yaml.safe_dump(knobs))
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    done = subprocess.run(
        ["ansible-playbook", "-vvv", "-i", "inventory/local", "site.yml", "--vault-password-file", str(vault_password),
         "-e", f"@{vault}", "-e", f"@{from_vault}", "-e", f"@{quick}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=2400, check=False)
    return SiteRun(done.returncode, done.stdout + done.stderr)


def redacted(text: str, passwords: Passwords) -> str:
    for needle in needles(passwords).values():
        text = text.replace(needle.decode(), "<redacted>")
    return text


def test_site_runs_with_the_vault_passwords(site_run, passwords):
    assert site_run.returncode == 0, redacted(site_run.output[-6000:], passwords)
    with urllib.request.urlopen("http://127.0.0.1:8080/api/products/last", timeout=60) as answer:
        assert answer.status == 200  # the api reached the database with the vault's password
    assert get("/v2/", secret=passwords["registry"])[0] == 200


def test_every_node_task_ran_over_ssh(site_run):
    """One code path with a real cluster: in -vvv, Ansible names each connection it opens."""
    local = set(re.findall(r"^<([^>]+)> ESTABLISH LOCAL CONNECTION", site_run.output, flags=re.MULTILINE))
    over_ssh = set(re.findall(r"^<([^>]+)> ESTABLISH SSH CONNECTION FOR USER: root", site_run.output, flags=re.MULTILINE))
    print(f"connections: local to {sorted(local)}, SSH to {sorted(over_ssh)}")
    assert local <= {"127.0.0.1", "localhost"}, local
    assert over_ssh >= set(NODE_ADDRESSES), over_ssh


def test_no_password_in_the_verbose_output(site_run, passwords):
    output = site_run.output
    assert "<ansible.builtin.command>" in output or "ESTABLISH LOCAL CONNECTION" in output  # really -vvv
    print(f"secrets: {len(output.splitlines())} lines of -vvv output scanned")
    assert leaks(output.encode(), passwords) == []


def scanned_files() -> list[Path]:
    files = []
    for root in SCANNED:
        for folder, subfolders, names in os.walk(root):
            here = Path(folder)
            subfolders[:] = [s for s in subfolders if here / s not in SKIPPED]
            files += [here / name for name in names]
    # Each engine's record of its containers (environment, command, mounts), never the secrets'
    # tmpfs under containers/<id>/mounts/secrets: that is where a Docker secret is meant to be.
    for data_root in [Path("/var/lib/docker")] + [LAB / node / "docker" for node in NODES]:
        files += data_root.glob("containers/*/config.v2.json")
        files += data_root.glob("containers/*/hostconfig.json")
    return [f for f in files if f.is_file() and not f.is_symlink() and f.stat().st_size <= BIGGEST]


def test_no_password_in_rendered_files_logs_or_container_configs(site_run, passwords):
    files = scanned_files()
    assert leaks((STORE / "db_root_password").read_bytes(), passwords) == ["database"]  # the scan can see one
    assert LAB / "node1" / "woodyswarm" / "stacks" / "stack.yml" in files  # the stack file, on the manager
    assert len(files) > 100
    found = {str(f): names for f in files if (names := leaks(f.read_bytes(), passwords))}
    print(f"secrets: {len(files)} files scanned, {len(found)} with a password")
    assert found == {}


def test_no_password_in_docker_service_container_or_config_inspect(site_run, passwords):
    manager = docker.DockerClient(base_url="unix:///run/woodylab/node1.sock")
    services = manager.services.list()
    assert {s.name for s in services} >= {"woodytoys_db", "woodytoys_api"}
    inspected = [repr(s.attrs).encode() for s in services]
    for config in manager.configs.list():
        inspected.append(repr(config.attrs).encode() + base64.b64decode(config.attrs["Spec"].get("Data", "")))
    for secret in manager.secrets.list():
        inspected.append(repr(secret.attrs).encode())
    for node in NODES:
        engine = docker.DockerClient(base_url=f"unix:///run/woodylab/{node}.sock")
        inspected += [repr(c.attrs).encode() for c in engine.containers.list(all=True)]
    found = [leaks(blob, passwords) for blob in inspected if leaks(blob, passwords)]
    print(f"secrets: {len(inspected)} services, configs, secrets and containers inspected, {len(found)} with a password")
    assert found == []


def test_database_port_not_published_outside_the_overlay(site_run):
    db = docker.DockerClient(base_url="unix:///run/woodylab/node1.sock").services.get("woodytoys_db")
    assert not db.attrs["Spec"].get("EndpointSpec", {}).get("Ports")
    assert not db.attrs.get("Endpoint", {}).get("Ports")
    for address in ["127.0.0.1"] + NODE_ADDRESSES:
        with socket.socket() as probe:
            probe.settimeout(3)
            assert probe.connect_ex((address, 3306)) != 0, f"{address}:3306 accepts connections"
