#!/usr/bin/python
"""Ansible module: a digest of a Docker build context, to tag images by what they are built from."""
from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path

DOCUMENTATION = r"""
module: build_context_digest
short_description: Digest of a Docker build context (file paths, modes, contents) and build inputs
description:
  - Hashes every file of a build context that .dockerignore does not exclude, with its relative
    path and executable bit, plus extra inputs (build arguments, base image IDs). File times do
    not count, so an unchanged source gives the same digest on every machine.
options:
  path:
    description: The build context folder.
    type: path
    required: true
  inputs:
    description: Further inputs that change the image (build args, base image IDs).
    type: dict
    default: {}
  length:
    description: Hex characters kept in C(tag).
    type: int
    default: 12
"""

RETURN = r"""
digest:
  description: sha256 of the context and inputs, hex.
  type: str
  returned: always
tag:
  description: C(ctx-) followed by the first O(length) hex characters of the digest.
  type: str
  returned: always
files:
  description: Number of files hashed.
  type: int
  returned: always
"""


def ignore_patterns(context: Path) -> list[str]:
    """Patterns of the context's .dockerignore (comments and blank lines dropped)."""
    ignore_file = context / ".dockerignore"
    if not ignore_file.is_file():
        return []
    lines = (line.strip() for line in ignore_file.read_text().splitlines())
    return [line.rstrip("/") for line in lines if line and not line.startswith("#")]


def is_ignored(relative: str, patterns: Iterable[str]) -> bool:
    """True when the path, or one of its parent folders, matches a pattern."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatch(prefix, pattern) for pattern in patterns for prefix in prefixes)


def context_files(context: Path) -> list[Path]:
    patterns = ignore_patterns(context)
    files = (p for p in context.rglob("*") if p.is_file() or p.is_symlink())
    return sorted(p for p in files if not is_ignored(p.relative_to(context).as_posix(), patterns))


def context_digest(context: Path, inputs: Mapping[str, object]) -> tuple[str, int]:
    """sha256 over (path, executable bit, content) of each file, then the sorted inputs."""
    digest = hashlib.sha256()
    files = context_files(context)
    for path in files:
        relative = path.relative_to(context).as_posix()
        if path.is_symlink():
            body = b"link:" + str(path.readlink()).encode()
        else:
            body = path.read_bytes()
        executable = b"x" if path.stat().st_mode & 0o111 else b"-"
        digest.update(relative.encode() + b"\0" + executable + hashlib.sha256(body).digest())
    for key in sorted(inputs):
        digest.update(f"\0{key}={inputs[key]}".encode())
    return digest.hexdigest(), len(files)


def main() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "inputs": {"type": "dict", "default": {}},
            "length": {"type": "int", "default": 12},
        },
        supports_check_mode=True,
    )
    context = Path(module.params["path"])
    if not (context / "Dockerfile").is_file():
        module.fail_json(msg=f"{context} is not a build context: it has no Dockerfile")
    digest, count = context_digest(context, module.params["inputs"])
    module.exit_json(changed=False, digest=digest, tag=f"ctx-{digest[: module.params['length']]}", files=count)


if __name__ == "__main__":
    main()
