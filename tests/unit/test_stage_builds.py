"""The per-stage build table (plugins/module_utils/stage_builds.py): which folder builds what, and when."""
from __future__ import annotations

import re

import pytest
from library_module import ROOT  # noqa: F401  (puts collections/ on sys.path)

from ansible_collections.woodyswarm.shop.plugins.module_utils.stage_builds import StageBuildError, stage_builds
from ansible_collections.woodyswarm.shop.plugins.module_utils.stages import STAGES

SERVICES = [
    {"name": "api", "image": "woody_api", "context": "services/api", "base": "python", "wheels": "requirements.txt"},
    {"name": "reverse", "image": "woody_rp", "context": "services/reverse-proxy", "base": "nginx"},
    {"name": "db", "image": "woody_database", "context": "services/database", "base": "mariadb"},
    {"name": "front", "image": "woody_front", "context": "services/front", "base": "nginx"},
]
# The lab sheet's fork: sections 5.1 (api-redis, tagged redis) and 6.3 (front-cdn, tagged cdn).
LAB_SHEET_FORK = {
    "redis": {"api": {"context": "api-redis", "tag": "redis"}},
    "cdn": {"api": {"context": "api-redis", "tag": "redis"}, "front": {"context": "front-cdn", "tag": "cdn"}},
}


def table(variants: object, version: str = "1.0") -> dict:
    return stage_builds(SERVICES, variants, list(STAGES), version)


def test_without_variants_every_stage_runs_the_same_four_builds():
    result = table({})
    assert [build["id"] for build in result["builds"]] == ["api", "reverse", "db", "front"]
    assert all(build["tags"] == ["1.0", "latest"] and build["stages"] == list(STAGES) for build in result["builds"])
    assert all(row == {name: name for name in ("api", "reverse", "db", "front")} for row in result["stages"].values())


def test_the_lab_sheets_fork_builds_each_folder_once_and_runs_it_where_the_lab_sheet_does():
    result = table(LAB_SHEET_FORK)
    builds = {build["id"]: build for build in result["builds"]}
    assert sorted(builds) == ["api", "api-redis", "db", "front", "front-cdn", "reverse"]
    assert builds["api-redis"]["context"] == "api-redis" and builds["api-redis"]["stages"] == ["redis", "cdn"]
    assert builds["front-cdn"]["stages"] == ["cdn"] and builds["front"]["stages"] == ["initial", "replicas", "redis"]
    assert [result["stages"][stage]["api"] for stage in STAGES] == ["api", "api", "api-redis", "api-redis"]
    # A variant keeps what it does not change (its image, base and wheels).
    assert builds["api-redis"]["image"] == "woody_api" and builds["api-redis"]["wheels"] == "requirements.txt"


def test_only_the_base_build_is_published_as_the_version_and_latest():
    builds = {build["id"]: build for build in table(LAB_SHEET_FORK, "2.1")["builds"]}
    assert builds["api"]["tags"] == ["2.1", "latest"]
    assert builds["api-redis"]["tags"] == ["redis", "2.1-redis"]
    assert builds["front-cdn"]["tags"] == ["cdn", "2.1-cdn"]
    published = [(build["image"], tag) for build in builds.values() for tag in build["tags"]]
    assert len(published) == len(set(published)), "two builds publish one tag"


def test_a_variant_from_the_base_folder_is_one_build_with_one_more_tag():
    builds = table({"cdn": {"front": {"context": "services/front", "tag": "cdn"}}})["builds"]
    front = next(build for build in builds if build["service"] == "front")
    assert len([build for build in builds if build["service"] == "front"]) == 1
    assert front["tags"] == ["1.0", "latest", "cdn", "1.0-cdn"]


@pytest.mark.parametrize(("variants", "says"), [
    ({"redsi": {"api": {"context": "api-redis", "tag": "redis"}}}, "images_stage_variants.redsi: unknown stage"),
    ({"redis": {"apii": {"context": "api-redis", "tag": "redis"}}}, "images_stage_variants.redis.apii: no service apii"),
    ({"redis": {"api": {"tag": "redis"}}}, "images_stage_variants.redis.api: give context"),
    ({"redis": {"api": {"context": "api-redis"}}}, "images_stage_variants.redis.api: give tag"),
    ({"redis": {"api": {"context": "api-redis", "tag": "re dis"}}}, "tag re dis is not a valid Docker tag"),
    ({"redis": {"api": {"context": "api-redis", "tag": "latest"}}}, "tag latest is the base build's"),
    ({"redis": {"api": {"context": "api-redis", "tag": "1.0"}}}, "tag 1.0 is the base build's"),
    ({"redis": {"api": {"context": "api-redis", "tag": "fast"}},
      "cdn": {"api": {"context": "api-cdn", "tag": "fast"}}}, "tag fast is already built from api-redis (stage redis), not api-cdn"),
    ({"redis": {"api": {"context": "api-redis", "tag": "redis", "image": "other"}}}, "unknown keys image"),
    ({"redis": {"api": {"context": "services/api", "tag": "redis", "wheels": "other.txt"}}}, "with other settings"),
    (["redis"], "images_stage_variants must be a dict"),
])
def test_a_stage_table_mistake_names_the_stage_and_the_service(variants, says):
    with pytest.raises(StageBuildError, match=re.escape(says)):
        table(variants)
