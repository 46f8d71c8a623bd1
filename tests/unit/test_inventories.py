"""The embedded lab and a real cluster run one code path: inventory/local and inventory/example
define the same groups and the same variable names, and only the controller is local."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

INVENTORIES = Path(__file__).resolve().parents[2] / "inventory"
LAB, REAL = INVENTORIES / "local", INVENTORIES / "example"


def hosts_file(inventory: Path) -> dict[str, Any]:
    return yaml.safe_load((inventory / "hosts.yml").read_text())


def group_tree(group: dict[str, Any] | None) -> dict[str, Any]:
    """Group name -> its child groups' tree (hosts left out: their names differ by design)."""
    children = (group or {}).get("children") or {}
    return {name: group_tree(child) for name, child in children.items()}


def host_vars(inventory: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def visit(group: dict[str, Any] | None) -> None:
        for name, values in ((group or {}).get("hosts") or {}).items():
            found.setdefault(name, {}).update(values or {})
        for child in ((group or {}).get("children") or {}).values():
            visit(child)

    visit(hosts_file(inventory)["all"])
    return found


def group_var_names(inventory: Path) -> set[str]:
    files = [path for path in (inventory / "group_vars").rglob("*.yml") if path.name != "vault.yml"]
    return set().union(*(set(yaml.safe_load(path.read_text()) or {}) for path in files))


def members(inventory: Path, group: str) -> list[str]:
    def find(node: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
        for child_name, child in ((node or {}).get("children") or {}).items():
            if child_name == name:
                return child or {}
            if (hit := find(child, name)) is not None:
                return hit
        return None

    return list(((find(hosts_file(inventory)["all"], group) or {}).get("hosts") or {}))


def test_both_inventories_define_the_same_groups() -> None:
    assert group_tree(hosts_file(LAB)["all"]) == group_tree(hosts_file(REAL)["all"])


def test_both_inventories_define_the_same_group_variables() -> None:
    lab, real = group_var_names(LAB), group_var_names(REAL)
    assert lab - real == set(), f"only the lab sets {sorted(lab - real)}"
    assert real - lab == set(), f"only the real cluster sets {sorted(real - lab)}"


@pytest.mark.parametrize("group", ["controller", "managers", "workers", "dns"])
def test_hosts_of_a_group_carry_the_same_variable_names(group: str) -> None:
    def names(inventory: Path) -> set[str]:
        every = host_vars(inventory)
        return set().union(*(set(every[host]) for host in members(inventory, group)))

    lab, real = names(LAB), names(REAL)
    # The lab's DNS host is also its manager (node1): it has the manager's variables as well.
    assert real <= lab if group == "dns" else lab == real, (group, sorted(lab ^ real))


@pytest.mark.parametrize("inventory", [LAB, REAL], ids=["local", "example"])
def test_only_the_controller_is_a_local_connection(inventory: Path) -> None:
    every = host_vars(inventory)
    local = {host for host, values in every.items() if values.get("ansible_connection") == "local"}
    assert local == set(members(inventory, "controller"))
    for host in set(every) - local:
        assert "ansible_host" in every[host], f"{host} has no address to be reached over SSH at"
