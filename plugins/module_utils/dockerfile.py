# Copyright (c) woodyswarm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The images a Dockerfile starts from by name (FROM python:3.12.3-bookworm), as a registry serves them.

Left out: scratch, the Dockerfile's own build stages (FROM build AS ...; FROM build) and bases
given by a build argument (FROM ${BASE_IMAGE}): the caller passes those.
"""
from __future__ import annotations

import re

# FROM [--platform=...] image [AS name]; instructions are case-insensitive.
FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(?P<image>\S+)(?:\s+AS\s+(?P<stage>\S+))?\s*$", re.IGNORECASE)


def _logical_lines(text: str) -> list[str]:
    """The Dockerfile's instructions: continuation lines joined, comments and blanks dropped."""
    joined = re.sub(r"\\\s*\n", " ", text)
    return [line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def named_bases(text: str) -> list[str]:
    """Each image the Dockerfile starts from by its name, once, in order."""
    stages: set[str] = set()
    found: list[str] = []
    for line in _logical_lines(text):
        match = FROM.match(line)
        if not match:
            continue
        image = match["image"]
        if "$" not in image and image.lower() != "scratch" and image.lower() not in stages and image not in found:
            found.append(image)
        if match["stage"]:
            stages.add(match["stage"].lower())
    return found


def repository_name(reference: str) -> str:
    """The image's last path component, without tag or digest (docker.io/library/nginx:1.25 -> nginx)."""
    return reference.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]


def stand_in_plan(bases_of: dict[str, list[str]], kinds: dict[str, str]) -> dict[str, object]:
    """What stands in for each named base, where Docker Hub is out of reach.

    bases_of: per build, the images its Dockerfile names; kinds: repository name -> kind of local
    base (python, nginx, mariadb). Returns ``refs`` (kind -> the references to answer),
    ``builds`` (kind -> the builds that start from one), ``rows`` (each reference once, with its
    kind) and ``unknown`` (build, reference) pairs that nothing stands in for.
    """
    refs: dict[str, list[str]] = {}
    builds: dict[str, list[str]] = {}
    unknown: list[dict[str, str]] = []
    for build, references in bases_of.items():
        for reference in references:
            kind = kinds.get(repository_name(reference))
            if kind is None:
                unknown.append({"build": build, "ref": reference})
                continue
            if reference not in refs.setdefault(kind, []):
                refs[kind].append(reference)
            if build not in builds.setdefault(kind, []):
                builds[kind].append(build)
    rows = [{"kind": kind, "ref": reference} for kind, references in refs.items() for reference in references]
    return {"refs": refs, "builds": builds, "rows": rows, "unknown": unknown}
