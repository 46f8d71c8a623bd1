"""What image_publish_plan asks for: builds, tags and pushes, only where the engine or registry lacks them."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from library_module import load, run  # noqa: E402

publish_plan = load("image_publish_plan")
LocalImage, plan_images, split_reference = publish_plan.LocalImage, publish_plan.plan_images, publish_plan.split_reference

REPO = "10.213.0.1:5000/woodytoys/api"
SOURCE = f"{REPO}:ctx-aaa"
IMAGE = {"name": "api", "source": SOURCE, "publish": [SOURCE, f"{REPO}:1.0", f"{REPO}:latest"]}


@pytest.mark.parametrize(("reference", "expected"), [
    ("10.213.0.1:5000/woodytoys/api:ctx-aaa", ("10.213.0.1:5000/woodytoys/api", "ctx-aaa")),
    ("10.213.0.1:5000/woodytoys/api", ("10.213.0.1:5000/woodytoys/api", "latest")),
    ("redis:7", ("redis", "7")),
])
def test_split_reference_keeps_the_registry_port(reference: str, expected: tuple[str, str]) -> None:
    assert split_reference(reference) == expected


def test_published_everywhere_needs_nothing() -> None:
    local = {ref: LocalImage("sha256:1", [f"{REPO}@sha256:m1"]) for ref in IMAGE["publish"]}
    plan = plan_images([IMAGE], local.get, lambda ref: "sha256:m1")
    assert (plan.build, plan.tag, plan.push) == ([], [], [])


def test_an_absent_image_is_built_tagged_and_pushed_under_every_reference() -> None:
    plan = plan_images([IMAGE], {}.get, lambda ref: "sha256:m1")
    assert plan.build == ["api"]
    assert [t["tag"] for t in plan.tag] == ["1.0", "latest"]
    assert [p["tag"] for p in plan.push] == ["ctx-aaa", "1.0", "latest"]


def test_a_tag_on_an_older_image_is_moved_and_pushed() -> None:
    local = {SOURCE: LocalImage("sha256:2", [f"{REPO}@sha256:m2"]),
             f"{REPO}:1.0": LocalImage("sha256:2", [f"{REPO}@sha256:m2"]),
             f"{REPO}:latest": LocalImage("sha256:1", [f"{REPO}@sha256:m1"])}
    registry = {SOURCE: "sha256:m2", f"{REPO}:1.0": "sha256:m2", f"{REPO}:latest": "sha256:m1"}
    plan = plan_images([IMAGE], local.get, registry.get)
    assert plan.build == []
    assert plan.tag == [{"name": "api", "source": SOURCE, "repository": REPO, "tag": "latest"}]
    assert plan.push == [{"name": "api", "repository": REPO, "tag": "latest"}]


def test_a_tag_the_registry_lost_is_pushed_again() -> None:
    local = {ref: LocalImage("sha256:1", [f"{REPO}@sha256:m1"]) for ref in IMAGE["publish"]}
    registry = {SOURCE: "sha256:m1", f"{REPO}:latest": "sha256:m1"}
    plan = plan_images([IMAGE], local.get, registry.get)
    assert (plan.tag, plan.push) == ([], [{"name": "api", "repository": REPO, "tag": "1.0"}])


def test_without_a_registry_check_nothing_is_pushed() -> None:
    plan = plan_images([IMAGE], {}.get, None)
    assert plan.build == ["api"] and plan.push == [] and len(plan.tag) == 2


def test_an_unreachable_engine_fails_naming_the_docker_host(tmp_path) -> None:
    socket = f"unix://{tmp_path}/no-such-docker.sock"
    code, result = run(publish_plan, {"docker_host": socket, "images": [IMAGE]})
    assert code == 1
    assert result["msg"].startswith(f"image_publish_plan: cannot reach the Docker engine at {socket}: ")
    assert "No such file or directory" in result["msg"]


def test_without_the_docker_sdk_the_module_names_the_library_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "docker", None)  # import docker now raises ImportError
    code, result = run(load("image_publish_plan"), {"images": [IMAGE]})
    assert code == 1
    assert result["msg"].startswith("Failed to import the required Python library (docker (Debian: python3-docker))")
