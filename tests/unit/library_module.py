"""Import one of the collection's modules (plugins/modules/) as a Python module, for its unit tests."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from ansible.module_utils.testing import patch_module_args

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "plugins" / "modules"
# collections/ansible_collections/woodyswarm/shop links back to the checkout: with collections/ on
# sys.path, the modules' own imports (ansible_collections.woodyswarm.shop.plugins.module_utils.*)
# resolve as they do under Ansible.
COLLECTIONS = ROOT / "collections"
PACKAGE = "ansible_collections.woodyswarm.shop.plugins"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))


def _exec(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def load(name: str) -> ModuleType:
    """plugins/modules/<name>.py, loaded afresh under its collection name."""
    return _exec(f"{PACKAGE}.modules.{name}", MODULES / f"{name}.py")


def names() -> list[str]:
    """Every module of plugins/modules/."""
    return sorted(path.stem for path in MODULES.glob("*.py"))


def run(module: ModuleType, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The module's main() in this process with these arguments: its exit code and its result."""
    out = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        else:
            raise AssertionError(f"{module.__name__}.main() returned without exit_json or fail_json")
    return code, json.loads(out.getvalue())
