"""Every role installs the Debian package of each program it runs, on the host where it runs it.

A machine that once ran the test command has BIND's tools, hey, chromium and the rest: a role
that runs a program some other playbook installed works there and fails on a fresh machine (as
README command 1 did with named-checkconf). This reads what each role runs (the first word of
its commands, argv lists, validate strings and daemon executables, its variables resolved
from its defaults and vars, and the programs its modules run) and checks each against the
Debian package the role installs.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"

# Program -> the Debian package that provides it (checked with dpkg -S below where installed).
PACKAGE_OF = {
    "named-checkconf": "bind9-utils",
    "named-checkzone": "bind9-utils",
    "rndc": "bind9-utils",
    "dig": "bind9-dnsutils",
    "nsupdate": "bind9-dnsutils",
    "htpasswd": "apache2-utils",
    "debootstrap": "debootstrap",
    "curl": "curl",
    "wget": "wget",
    "hey": "hey",
    "socat": "socat",
    "ip": "iproute2",
    "iptables": "iptables",
    "docker-registry": "docker-registry",
    "dockerd": "docker.io",
}
# Part of every Debian system (Essential: yes, or required by it): nothing to install.
ESSENTIAL = {"cat", "tail", "timeout", "tar", "id", "start-stop-daemon", "env", "unshare", "mount", "hostname", "sh", "chroot"}
# Runs on the Docker engine's hosts, where the docker_engine role (first in every play that
# drives Docker) installs it; the lab's controller has its own static client.
FROM_DOCKER_ENGINE = {"docker"}
# Programs the project's own modules run.
MODULE_PROGRAMS = {"woodyswarm.shop.woody_measure": ["curl", "wget"]}
# The module that tells which Debian packages are missing (an apt task installs what it found).
PACKAGES_MISSING = "woodyswarm.shop.packages_missing"
# A value that is a program path or name: the first word, without its folder.
WORD = re.compile(r"^[\w./-]+$")


def role_vars(role: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for part in ("defaults/main.yml", "vars/main.yml"):
        path = role / part
        if path.exists():
            found.update(yaml.safe_load(path.read_text()) or {})
    return found


def resolve(value: Any, variables: dict[str, Any]) -> Any:
    """A whole-string "{{ var }}" becomes the variable's value (once); anything else stays."""
    if isinstance(value, str) and (match := re.fullmatch(r"\s*\{\{\s*(\w+)\s*\}\}\s*", value)):
        return variables.get(match[1], value)
    return value


def first_program(words: Any, variables: dict[str, Any]) -> str | None:
    words = resolve(words, variables)
    if isinstance(words, list):
        words = " ".join(str(resolve(w, variables)) for w in words[:6])
    if not isinstance(words, str):
        return None
    # "{{ var }}" inside a string: the variable's text; any other expression: one opaque word.
    words = re.sub(r"\{\{\s*(\w+)\s*\}\}",
                   lambda m: v if isinstance(v := variables.get(m[1]), str) else m[0], words)
    tokens = re.sub(r"\{\{.*?\}\}", "EXPR", words, flags=re.S).split()
    while tokens and (tokens[0] == "env" or "=" in tokens[0]):
        tokens.pop(0)  # env VAR=value program ...
    if tokens and tokens[0] == "timeout":  # timeout [--options] DURATION program ...
        tokens = [t for t in tokens[1:] if not t.startswith("-")][1:]
    if not tokens or not WORD.match(tokens[0]) or tokens[0] == "EXPR":
        return None  # an expression: what it runs is not readable here
    return tokens[0].rsplit("/", 1)[-1]


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def programs_run(role: Path) -> set[str]:
    variables = role_vars(role)
    found: set[str] = set()
    for path in sorted((role / "tasks").glob("*.yml")):
        for node in walk(yaml.safe_load(path.read_text())):
            for key, value in node.items():
                if key in ("ansible.builtin.command", "ansible.builtin.shell"):
                    value = value.get("argv") or value.get("cmd") if isinstance(value, dict) else value
                elif key not in ("argv", "validate", "daemon_executable"):
                    if key in MODULE_PROGRAMS:
                        found.update(MODULE_PROGRAMS[key])
                    continue
                if program := first_program(value, variables):
                    found.add(program)
    return found


def package_names(value: Any, variables: dict[str, Any], depth: int = 3) -> set[str]:
    """Package names in an apt `name`: a list, a name, or an expression over the role's lists
    (e.g. "{{ wanted | difference(ansible_facts.packages) }}": every role variable it names)."""
    if isinstance(value, list):
        return set().union(*(package_names(v, variables, depth) for v in value)) if value else set()
    if not isinstance(value, str):
        return set()
    if "{{" not in value:
        return {value}
    if depth == 0:
        return set()
    # Variables holding lists (or expressions over them); a plain string variable in a test
    # (docker_engine_source == 'distribution') names no package.
    named = [word for expression in re.findall(r"\{\{(.*?)\}\}", value, flags=re.S)
             for word in re.findall(r"\b\w+\b", expression)
             if word in variables and (isinstance(variables[word], list) or "{{" in str(variables[word]))]
    return set().union(*(package_names(variables[word], variables, depth - 1) for word in named)) if named else set()


def packages_installed(role: Path) -> set[str]:
    """Names in the role's apt tasks; an apt of "{{ result.missing }}" installs what the
    packages_missing task registered as `result` looked for."""
    variables = role_vars(role)
    nodes = [node for path in sorted((role / "tasks").glob("*.yml")) for node in walk(yaml.safe_load(path.read_text()))]
    looked_for = {node["register"]: node[PACKAGES_MISSING]["names"] for node in nodes
                  if isinstance(node.get(PACKAGES_MISSING), dict) and "register" in node}
    found: set[str] = set()
    for node in nodes:
        apt = node.get("ansible.builtin.apt")
        if isinstance(apt, dict) and "name" in apt:
            found |= package_names(apt["name"], {**variables, **looked_for})
    return found


ALL_ROLES = sorted(p.name for p in ROLES.iterdir() if (p / "tasks").is_dir())


@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_program_a_role_runs_comes_from_a_package_it_installs(role: str) -> None:
    path = ROLES / role
    run, installed = programs_run(path), packages_installed(path)
    for program in sorted(run - ESSENTIAL - FROM_DOCKER_ENGINE):
        if program.startswith("{{") or program == "python" or program.startswith("python"):
            continue
        assert program in PACKAGE_OF, f"{role} runs {program}: which Debian package provides it? (add it to PACKAGE_OF)"
        assert PACKAGE_OF[program] in installed, (
            f"{role} runs {program} but does not install {PACKAGE_OF[program]} (it installs {sorted(installed)})")


def test_the_reading_finds_what_the_roles_are_known_to_run() -> None:
    """The reader itself: programs each of these roles is known to run."""
    assert {"named-checkzone", "dig"} <= programs_run(ROLES / "bind_zone")
    assert "htpasswd" in programs_run(ROLES / "registry")
    assert {"curl", "wget"} <= programs_run(ROLES / "measure")
    assert {"dig", "docker"} <= programs_run(ROLES / "dns_server")
    assert "debootstrap" in programs_run(ROLES / "base_images")  # behind `timeout`


@pytest.mark.parametrize("program", sorted(PACKAGE_OF))
def test_the_table_names_the_package_dpkg_knows(program: str) -> None:
    where = shutil.which(program) or shutil.which(program, path="/usr/sbin:/sbin")
    if where is None:
        pytest.skip(f"{program} is not installed here")
    owner = subprocess.run(["dpkg", "-S", str(Path(where).resolve())], capture_output=True, text=True, check=False)
    if owner.returncode != 0:
        pytest.skip(f"{where} is not from a Debian package here")
    assert owner.stdout.split(":")[0] == PACKAGE_OF[program], owner.stdout


# Roles that install on the swarm nodes and the DNS host (playbooks/cluster.yml, deploy.yml).
NODE_ROLES = ["docker_engine", "dns_server", "bind_zone"]


def test_the_lab_carries_every_package_the_node_roles_install() -> None:
    """The lab's nodes share the controller's OS and have no route out: what a node role would
    install must already be there, or the role fails on a lab node for want of a mirror."""
    carried = set(role_vars(ROLES / "local_lab")["local_lab_node_packages"])
    for role in NODE_ROLES:
        wanted = packages_installed(ROLES / role) - {"docker-ce", "docker-ce-cli", "containerd.io"}
        assert wanted, f"the reader found no package that {role} installs"
        assert wanted <= carried, f"{role} installs {sorted(wanted - carried)}, which local_lab_node_packages lacks"
