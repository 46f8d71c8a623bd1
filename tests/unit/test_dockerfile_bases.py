"""The images a Dockerfile starts from by name (plugins/module_utils/dockerfile.py)."""
from __future__ import annotations

import pytest
from library_module import ROOT

from ansible_collections.woodyswarm.shop.plugins.module_utils.dockerfile import named_bases, repository_name, stand_in_plan


def test_the_course_dockerfiles_name_their_docker_hub_bases():
    assert named_bases("FROM python:3.12.3-bookworm\nWORKDIR /app\nRUN pip install -r requirements.txt\n") == [
        "python:3.12.3-bookworm"]
    assert named_bases("from mysql\nCOPY init.sql /docker-entrypoint-initdb.d/\n") == ["mysql"]


def test_stages_arguments_and_scratch_are_not_bases_to_find():
    text = """\
        # a comment FROM nothing
        ARG BASE_IMAGE=python:3.11-slim
        FROM --platform=linux/amd64 node:20 AS Build
        RUN echo \\
            FROM not-an-instruction
        FROM build
        FROM ${BASE_IMAGE}
        FROM scratch
        FROM nginx:1.25.4 as final
        FROM nginx:1.25.4
        """
    assert named_bases("\n".join(line.strip() for line in text.splitlines())) == ["node:20", "nginx:1.25.4"]


def test_our_own_dockerfiles_take_every_base_as_an_argument():
    """Our shop's images start from BASE_IMAGE / PYTHON_BASE_IMAGE: nothing to stand in for."""
    dockerfiles = sorted((ROOT / "files" / "services").glob("*/Dockerfile"))
    assert len(dockerfiles) == 4
    assert {path.parent.name: named_bases(path.read_text()) for path in dockerfiles} == {
        path.parent.name: [] for path in dockerfiles}


@pytest.mark.parametrize(("reference", "name"), [
    ("python:3.12.3-bookworm", "python"), ("mysql", "mysql"), ("docker.io/library/nginx:alpine", "nginx"),
    ("10.213.0.10:5000/woody/woody_api:ctx-1", "woody_api"), ("redis@sha256:abc", "redis"),
])
def test_the_repository_name_picks_the_kind(reference, name):
    assert repository_name(reference) == name


def test_the_stand_in_plan_groups_the_names_by_kind_and_lists_the_unknown():
    plan = stand_in_plan(
        {"api": ["python:3.12.3-bookworm"], "api-redis": ["python:3.12.3-bookworm"], "db": ["mysql"],
         "reverse": ["nginx:1.25.4"], "front": ["nginx:alpine"], "extra": ["postgres:16"], "ours": []},
        {"python": "python", "nginx": "nginx", "mysql": "mariadb", "mariadb": "mariadb"})
    assert plan["refs"] == {"python": ["python:3.12.3-bookworm"], "mariadb": ["mysql"], "nginx": ["nginx:1.25.4", "nginx:alpine"]}
    assert plan["builds"]["python"] == ["api", "api-redis"]
    assert plan["unknown"] == [{"build": "extra", "ref": "postgres:16"}]
    assert {"kind": "nginx", "ref": "nginx:alpine"} in plan["rows"] and len(plan["rows"]) == 4


def test_wheels_are_chosen_for_the_bases_python_markers_included():
    """The controller's Python is not the bases': markers are read for the bases' version."""
    import importlib.util

    from pip._vendor.packaging import markers

    spec = importlib.util.spec_from_file_location("pip_download_for", ROOT / "roles/images/files/pip_download_for.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    environment = module.target_environment("3.11.2", markers.default_environment)()
    assert markers.Marker('python_full_version < "3.11.3"').evaluate(environment)
    assert not markers.Marker('python_full_version < "3.11.3"').evaluate(module.target_environment("3.11.7", markers.default_environment)())
    assert environment["python_version"] == "3.11"
