"""Every module of plugins/modules/ documents itself as community collections do: DOCUMENTATION,
EXAMPLES (calling it by its FQCN) and RETURN that ansible-doc renders, and documented options that
are exactly its argument_spec."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from library_module import COLLECTIONS, MODULES, ROOT, load, names  # noqa: E402

NAMES = names()


def fqcn(name: str) -> str:
    return f"woodyswarm.shop.{name}"


def facts(entry: dict[str, Any]) -> dict[str, Any]:
    """What Ansible checks of an option, with its defaults filled in."""
    found = {"type": entry.get("type", "str"), "required": entry.get("required", False),
             "default": entry.get("default"), "choices": entry.get("choices"), "elements": entry.get("elements")}
    children = entry.get("suboptions", entry.get("options"))
    if children:
        found["suboptions"] = {name: facts(child) for name, child in children.items()}
    return found


def test_every_module_is_checked() -> None:
    assert NAMES == ["build_context_digest", "image_digests", "image_publish_plan", "packages_missing", "swarm_stack_converged",
                       "woody_measure", "woody_report", "zone_records"]


@pytest.mark.parametrize("name", NAMES)
def test_documented_options_are_the_argument_spec(name: str) -> None:
    module = load(name)
    options = yaml.safe_load(module.DOCUMENTATION)["options"]
    assert {key: facts(o) for key, o in options.items()} == {key: facts(o) for key, o in module.ARGUMENT_SPEC.items()}
    assert all(option.get("description") for option in options.values())


@pytest.mark.parametrize("name", NAMES)
def test_documentation_has_what_community_modules_have(name: str) -> None:
    module = load(name)
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["module"] == name
    assert doc["short_description"] and doc["description"] and doc["author"]
    assert {"check_mode", "diff_mode"} <= set(doc["attributes"])
    returned = yaml.safe_load(module.RETURN)
    assert returned and all({"description", "type", "returned"} <= set(value) for value in returned.values())


@pytest.mark.parametrize("name", NAMES)
def test_examples_call_the_module_with_documented_options(name: str) -> None:
    module = load(name)
    options = yaml.safe_load(module.DOCUMENTATION)["options"]
    required = {key for key, option in options.items() if option.get("required")}
    calls = [task[fqcn(name)] for task in yaml.safe_load(module.EXAMPLES) if fqcn(name) in task]
    assert calls, f"no example calls {fqcn(name)}"
    for arguments in calls:
        assert required <= set(arguments) <= set(options)


def test_ansible_doc_renders_every_module_without_a_warning() -> None:
    ansible_doc = shutil.which("ansible-doc", path=str(Path(sys.executable).parent)) or shutil.which("ansible-doc")
    assert ansible_doc, "ansible-doc is not installed"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_NOCOLOR="1",
               ANSIBLE_DEPRECATION_WARNINGS="1")
    done = subprocess.run([ansible_doc, "-t", "module", *map(fqcn, NAMES)], capture_output=True, text=True,
                          env=env, cwd=ROOT, check=False, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    installed = COLLECTIONS / "ansible_collections/woodyswarm/shop" / MODULES.relative_to(ROOT)
    for name in NAMES:
        assert f"> MODULE {fqcn(name)} ({installed / name}.py)" in done.stdout
