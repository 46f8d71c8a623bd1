"""Import one of the project's modules (library/) as a Python module, for its unit tests."""
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
LIBRARY = ROOT / "library"
MODULE_UTILS = ROOT / "module_utils"


def _exec(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _module_utils() -> None:
    """Make the project's module_utils importable as Ansible ships them: ansible.module_utils.<name>."""
    for path in sorted(MODULE_UTILS.glob("*.py")):
        if f"ansible.module_utils.{path.stem}" not in sys.modules:
            _exec(f"ansible.module_utils.{path.stem}", path)


def load(name: str) -> ModuleType:
    """library/<name>.py, registered as library.<name> (module_utils/<name>.py may share its name)."""
    _module_utils()
    return _exec(f"library.{name}", LIBRARY / f"{name}.py")


def names() -> list[str]:
    """Every module of library/."""
    return sorted(path.stem for path in LIBRARY.glob("*.py"))


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
