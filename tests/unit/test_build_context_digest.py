"""The content tag changes exactly when what an image is built from changes."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "build_context_digest", Path(__file__).resolve().parents[2] / "plugins/modules/build_context_digest.py")
assert _SPEC and _SPEC.loader
digest_module = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(digest_module)


@pytest.fixture()
def context(tmp_path: Path) -> Path:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY app /app\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text("print('hi')\n")
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "x.whl").write_bytes(b"wheel")
    (tmp_path / ".dockerignore").write_text("# build junk\n__pycache__\n*.pyc\n")
    return tmp_path


def digest(path: Path, **inputs: object) -> str:
    return digest_module.context_digest(path, inputs)[0]


def test_same_context_same_digest(context):
    assert digest(context) == digest(context)


def test_file_times_do_not_count(context):
    before = digest(context)
    os.utime(context / "app" / "main.py", (1, 1))
    assert digest(context) == before


def test_one_changed_byte_changes_the_digest(context):
    before = digest(context)
    (context / "app" / "main.py").write_text("print('ho')\n")
    assert digest(context) != before


def test_renamed_file_changes_the_digest(context):
    before = digest(context)
    (context / "app" / "main.py").rename(context / "app" / "other.py")
    assert digest(context) != before


def test_executable_bit_changes_the_digest(context):
    before = digest(context)
    (context / "app" / "main.py").chmod(0o755)
    assert digest(context) != before


def test_ignored_files_do_not_count(context):
    before = digest(context)
    (context / "app" / "__pycache__").mkdir()
    (context / "app" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"junk")
    (context / "stale.pyc").write_bytes(b"junk")
    assert digest(context) == before


def test_inputs_change_the_digest(context):
    assert digest(context, BASE_IMAGE="sha256:aaa") != digest(context, BASE_IMAGE="sha256:bbb")


def test_input_order_does_not_matter(context):
    assert digest(context, a=1, b=2) == digest(context, b=2, a=1)


def test_counts_only_hashed_files(context):
    assert digest_module.context_digest(context, {})[1] == 4  # .dockerignore, Dockerfile, main.py, x.whl
