"""Each role's README is one a user can copy from: its variables section is generated from the
argument spec (scripts/role-readme; no third copy that drifts), every variable of the spec is in
it, and it ends with an example play that uses the role by its FQCN and sets only variables the
spec knows, secrets as vault references."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(path.name for path in (ROOT / "roles").iterdir() if path.is_dir())
FENCE = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)
# The project's one name for the course assignment (defined in the top README).
OTHER_NAMES = re.compile(r"\bTP ?9?\b|\bthe seed\b|\blab's sheet\b", re.IGNORECASE)


def role_readme() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("role_readme", str(ROOT / "scripts" / "role-readme"))
    spec = importlib.util.spec_from_loader("role_readme", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


SCRIPT = role_readme()


def options(role: str) -> dict[str, Any]:
    specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    return {name: option for spec in specs.values() for name, option in (spec.get("options") or {}).items()}


def readme(role: str) -> str:
    return (ROOT / "roles" / role / "README.md").read_text()


def example(role: str) -> list[dict[str, Any]]:
    """The plays of the README's last section, which must be its Example."""
    sections = re.split(r"^## ", readme(role), flags=re.MULTILINE)
    assert sections[-1].startswith("Example\n"), f"{role}: the README's last section is not ## Example"
    blocks = FENCE.findall(sections[-1])
    assert len(blocks) == 1, f"{role}: the Example section holds {len(blocks)} YAML blocks, not one"
    plays = yaml.safe_load(blocks[0])
    assert isinstance(plays, list) and plays and all(isinstance(play, dict) and "hosts" in play for play in plays)
    return plays


def role_entries(play: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, variables set) of each role the play applies: its vars, and any given inline."""
    found = []
    for entry in play.get("roles") or []:
        entry = {"role": entry} if isinstance(entry, str) else entry
        inline = {key: value for key, value in entry.items() if key not in {"role", "name", "vars"}}
        found.append((entry.get("role", entry.get("name")), {**(entry.get("vars") or {}), **inline}))
    return found


def secrets(option: dict[str, Any], value: Any) -> list[Any]:
    """The parts of a value its option marks no_log: the value itself, or no_log fields of its items."""
    if option.get("no_log"):
        return [value]
    fields = [name for name, sub in (option.get("options") or {}).items() if sub.get("no_log")]
    items = value if isinstance(value, list) else [value]
    return [item[name] for item in items if isinstance(item, dict) for name in fields if name in item]


def test_every_role_has_an_argument_spec_and_a_readme() -> None:
    assert ROLES, "no role found"
    for role in ROLES:
        for name in ("meta/argument_specs.yml", "README.md"):
            assert (ROOT / "roles" / role / name).is_file(), f"{role}: no {name}"


def test_generated_sections_are_up_to_date() -> None:
    assert SCRIPT.stale(ROLES) == []


def test_check_names_a_stale_readme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    role = tmp_path / "swarm"
    (role / "meta").mkdir(parents=True)
    (role / "defaults").mkdir()
    for name in ("meta/argument_specs.yml", "defaults/main.yml"):
        (role / name).write_text((ROOT / "roles" / "swarm" / name).read_text())
    (role / "README.md").write_text(readme("swarm").replace("`swarm_port`", "`swarm_port_old`"))
    monkeypatch.setattr(SCRIPT, "ROLES", tmp_path)
    assert SCRIPT.stale() == ["swarm: roles/swarm/README.md is out of date (run scripts/role-readme)"]
    assert SCRIPT.main(["--check"]) == 1
    assert SCRIPT.main([]) == 0 and SCRIPT.stale() == []
    assert (role / "README.md").read_text() == readme("swarm")


@pytest.mark.parametrize("role", ROLES)
def test_every_variable_of_the_spec_is_in_the_readme(role: str) -> None:
    text = readme(role)
    section = text[text.index(SCRIPT.BEGIN):text.index(SCRIPT.END)]
    listed = re.findall(r"^\| `([a-z0-9_]+)` \|", section, flags=re.MULTILINE)
    assert listed == list(options(role)), f"{role}: the README lists {listed}"


def problems(used: str, values: dict[str, Any]) -> list[str]:
    """What is wrong with the variables of role `used` an example sets (its prefix only)."""
    known = options(used)
    mine = {key: value for key, value in values.items() if key.startswith(f"{used}_")}
    found = [f"{key} is not in the {used} role's argument spec" for key in mine if key not in known]
    found += [f"{key} must come from the vault, not {secret!r}" for key, value in mine.items() if key in known
              for secret in secrets(known[key], value) if not str(secret).startswith("{{ vault_")]
    # The values Ansible can check before templating, checked as the role's own validation does.
    literal = {key: value for key, value in mine.items() if key in known and "{{" not in yaml.safe_dump(value)}
    return found + ArgumentSpecValidator({key: known[key] for key in literal}).validate(literal).error_messages


@pytest.mark.parametrize("role", ROLES)
def test_readme_ends_with_an_example_play_of_the_role(role: str) -> None:
    plays = example(role)
    fqcn = f"woodyswarm.shop.{role}"
    entries = [entry for play in plays for entry in role_entries(play)]
    assert fqcn in [name for name, _ in entries], f"{role}: the example does not use the role by its FQCN"
    assert re.search(rf"# From the checkout, `roles: \[([a-z_]+, )*{role}\]` works too", readme(role))
    assert all(name.startswith("woodyswarm.shop.") for name, _ in entries), f"{role}: a role is not named by its FQCN"
    for name, values in entries + [(fqcn, play.get("vars") or {}) for play in plays]:
        found = problems(name.removeprefix("woodyswarm.shop."), values)
        assert not found, f"{role}: the example's variables: {found}"


@pytest.mark.parametrize("role", ROLES)
def test_readme_calls_the_lab_sheet_by_that_name(role: str) -> None:
    assert not OTHER_NAMES.findall(readme(role))
