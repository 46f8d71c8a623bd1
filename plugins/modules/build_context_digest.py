#!/usr/bin/python
# Copyright (c) woodyswarm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: a digest of a Docker build context, to tag images by what they are built from."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: build_context_digest
short_description: Digest of a Docker build context and its build inputs, to tag an image by what it is built from
description:
  - Hashes every file of a build context that C(.dockerignore) does not exclude, with its path
    relative to the context and its executable bit, then the extra O(inputs) (build arguments,
    base image IDs), sorted by name.
  - File times and owners do not count, so an unchanged source gives the same digest on every
    machine and a rebuild is needed only when the digest changes.
  - Reads only; the context must hold a C(Dockerfile).
author:
  - woodyswarm maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads only.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  path:
    description: The build context folder (the one holding the C(Dockerfile)).
    type: path
    required: true
  inputs:
    description:
      - Further inputs that change the image (build arguments, base image IDs), name to value.
      - Values are hashed as text.
    type: dict
    default: {}
  length:
    description: How many hex characters of the digest RV(tag) keeps.
    type: int
    default: 12
notes:
  - C(.dockerignore) patterns are matched with shell globs against each path and its parent
    folders; exceptions (C(!pattern)) are not supported.
seealso:
  - module: community.docker.docker_image_build
"""

EXAMPLES = r"""
---
- name: Compute the content tag of the api image
  woodyswarm.shop.build_context_digest:
    path: "{{ playbook_dir }}/files/services/api"
    inputs:
      BASE_IMAGE: woody/python-base:1
  register: api_digest

- name: Build the image under that tag (a rerun with the same sources builds nothing)
  community.docker.docker_image_build:
    name: registry.example:5000/woody/api
    tag: "{{ api_digest.tag }}"
    path: "{{ playbook_dir }}/files/services/api"
"""

RETURN = r"""
---
digest:
  description: sha256 of the context's files and the inputs, hex.
  type: str
  returned: always
  sample: 3f2a9c0d8e71b6a4c5d2e0f1a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f70
tag:
  description: C(ctx-) followed by the first O(length) hex characters of RV(digest).
  type: str
  returned: always
  sample: ctx-3f2a9c0d8e71
files:
  description: Number of files hashed.
  type: int
  returned: always
  sample: 14
"""

import fnmatch
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "path": {"type": "path", "required": True},
    "inputs": {"type": "dict", "default": {}},
    "length": {"type": "int", "default": 12},
}


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
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    context = Path(module.params["path"])
    if not (context / "Dockerfile").is_file():
        module.fail_json(msg=f"{context} is not a build context: it has no Dockerfile")
    digest, count = context_digest(context, module.params["inputs"])
    module.exit_json(changed=False, digest=digest, tag=f"ctx-{digest[: module.params['length']]}", files=count)


if __name__ == "__main__":
    main()
