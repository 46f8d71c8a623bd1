# Copyright (c) woodyswarm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which folder builds which service, under which tag, at each stage: the app described as data.

A service is built from its folder in images_services at every stage, unless a stage names a
variant for it (the lab sheet's fork builds the api from api-redis, tagged redis, in the redis and
cdn stages). One build a service and folder: stages that ask for the same folder share it. The
base build is published as the version and latest; a variant only as its own tag and
<version>-<tag>, so two variants never fight over one tag.
"""
from __future__ import annotations

import re
from typing import Any

TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# A variant may change where and how its service is built, never what image it is.
VARIANT_KEYS = {"context", "tag", "base", "python_base", "wheels"}


class StageBuildError(ValueError):
    """A stage table that cannot be built; the message names the stage, the service and the key."""


def _variants_of(variants: Any, stages: list[str], services: dict[str, dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    if not isinstance(variants, dict):
        raise StageBuildError(f"images_stage_variants must be a dict of stage: {{service: {{context, tag}}}} (got {variants!r})")
    for stage, row in variants.items():
        where = f"images_stage_variants.{stage}"
        if stage not in stages:
            raise StageBuildError(f"{where}: unknown stage (the stages are {', '.join(stages)})")
        if not isinstance(row, dict):
            raise StageBuildError(f"{where} must be a dict of service: {{context, tag}} (got {row!r})")
        for service, variant in row.items():
            here = f"{where}.{service}"
            if service not in services:
                raise StageBuildError(f"{here}: no service {service} in images_services ({', '.join(services)})")
            if not isinstance(variant, dict):
                raise StageBuildError(f"{here} must be a dict with context and tag (got {variant!r})")
            unknown = sorted(set(variant) - VARIANT_KEYS)
            if unknown:
                raise StageBuildError(f"{here}: unknown keys {', '.join(unknown)} (a variant takes {', '.join(sorted(VARIANT_KEYS))})")
            for key, meaning in (("context", "the folder it is built from"), ("tag", "the tag it is published under")):
                if not isinstance(variant.get(key), str) or not variant[key].strip():
                    raise StageBuildError(f"{here}: give {key} ({meaning})")
            if not TAG.match(variant["tag"]):
                raise StageBuildError(f"{here}: tag {variant['tag']} is not a valid Docker tag")
    return variants


def stage_builds(services: list[dict[str, Any]], variants: Any, stages: list[str], version: str) -> dict[str, Any]:
    """The builds (each once) and, per stage, the build of each service.

    Returns ``{"builds": [...], "stages": {stage: {service: build id}}}``; each build is its
    service's row from images_services with the variant's keys over it, plus ``id`` (the service
    for its base build, ``<service>-<tag>`` for a variant), ``service``, ``tags`` (what it is
    published as besides its content tag) and ``stages`` (the stages that run it).
    """
    by_name = {service["name"]: service for service in services}
    table = _variants_of(variants, stages, by_name)
    builds: dict[tuple[str, str], dict[str, Any]] = {}
    owner_of_tag: dict[tuple[str, str], tuple[str, str]] = {}  # (service, tag) -> (context, stage)
    per_stage: dict[str, dict[str, str]] = {}
    for stage in stages:
        per_stage[stage] = {}
        for name, service in by_name.items():
            variant = table.get(stage, {}).get(name)
            row = {**service, **(variant or {})}
            tag = variant["tag"] if variant else ""
            if tag in ("latest", version):
                raise StageBuildError(
                    f"images_stage_variants.{stage}.{name}: tag {tag} is the base build's "
                    f"(from {service['context']}); give the variant a tag of its own")
            if tag:
                context, first = owner_of_tag.setdefault((name, tag), (row["context"], stage))
                if context != row["context"]:
                    raise StageBuildError(
                        f"images_stage_variants.{stage}.{name}: tag {tag} is already built from {context} "
                        f"(stage {first}), not {row['context']}: one tag, one folder")
            key = (name, row["context"])
            build = builds.get(key)
            if build is None:
                build = builds[key] = {**row, "service": name, "id": name if not tag else f"{name}-{tag}",
                                       "tags": [], "stages": []}
                build.pop("tag", None)
            elif any(build.get(k) != row.get(k) for k in VARIANT_KEYS - {"tag", "context"}):
                raise StageBuildError(
                    f"images_stage_variants.{stage}.{name}: {row['context']} is built at stage "
                    f"{build['stages'][0]} with other settings (base, python_base, wheels)")
            published = [version, "latest"] if not tag else [tag, f"{version}-{tag}"]
            build["tags"] += [t for t in published if t not in build["tags"]]
            build["stages"].append(stage)
            per_stage[stage][name] = build["id"]
    return {"builds": list(builds.values()), "stages": per_stage}
