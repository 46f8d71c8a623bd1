#!/usr/bin/python
# Copyright (c) woodyswarm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: what a set of images still needs (build, tag, push) before a registry has them."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: image_publish_plan
short_description: What a set of images still needs (build, tag, push) before a registry holds them
description:
  - Reads only. For each image, looks up its source reference on the engine, and each reference
    it is published as on the engine (the same image ID?) and in the registry (a manifest lookup
    through the engine, with the engine's registry login; does the registry's digest belong to
    this image?).
  - Returns the images to build, the tags to set and the references to push, so a run with
    nothing to do costs one module call instead of a build check, a tag and a push per tag.
  - A registry that does not answer, or lacks the repository, counts as lacking the reference;
    the push then succeeds or names the real error.
author:
  - woodyswarm maintainers (!UNKNOWN)
requirements:
  - Docker SDK for Python (C(docker) on PyPI, Debian package C(python3-docker))
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
  docker_host:
    description: The Docker API of the engine that builds and pushes.
    type: str
    default: unix:///var/run/docker.sock
  images:
    description:
      - The images to publish, each a dict with C(name) (a label, returned in RV(build), RV(tag)
        and RV(push)), C(source) (the local reference the image is built as) and C(publish) (a
        reference, or a list of them, the image must have on the engine and in the registry; it
        may include C(source)).
      - Other keys are ignored, so a role can pass its own records of the images.
    type: list
    elements: dict
    required: true
  check_registry:
    description: Look the references up in the registry; V(false) when nothing is pushed (RV(push) is then empty).
    type: bool
    default: true
seealso:
  - module: community.docker.docker_image_build
  - module: community.docker.docker_image_tag
  - module: community.docker.docker_image_push
"""

EXAMPLES = r"""
---
- name: Ask the engine and the registry what is missing
  woodyswarm.shop.image_publish_plan:
    images:
      - name: api
        source: registry.example:5000/woody/api:ctx-0123abcd
        publish:
          - registry.example:5000/woody/api:ctx-0123abcd
          - registry.example:5000/woody/api:latest
  register: plan

- name: Push only what the registry lacks
  community.docker.docker_image_push:
    name: "{{ item.repository }}"
    tag: "{{ item.tag }}"
  loop: "{{ plan.push }}"
"""

RETURN = r"""
---
build:
  description: Names of the images whose source reference is not on the engine.
  type: list
  elements: str
  returned: always
  sample: [api]
tag:
  description: Each local tag to set, because it is absent or names another image.
  type: list
  elements: dict
  returned: always
  contains:
    name: {description: The image's C(name)., type: str, sample: api}
    source: {description: The reference to tag from., type: str, sample: "registry.example:5000/woody/api:ctx-0123abcd"}
    repository: {description: The repository of the reference to set., type: str, sample: "registry.example:5000/woody/api"}
    tag: {description: The tag of the reference to set., type: str, sample: latest}
push:
  description: Each reference the registry lacks or holds for another image (empty when O(check_registry=false)).
  type: list
  elements: dict
  returned: always
  contains:
    name: {description: The image's C(name)., type: str, sample: api}
    repository: {description: The repository to push., type: str, sample: "registry.example:5000/woody/api"}
    tag: {description: The tag to push., type: str, sample: latest}
"""

import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import docker
    from docker.errors import APIError, DockerException, ImageNotFound
    from requests.exceptions import RequestException
except ImportError:
    DOCKER_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    DOCKER_IMPORT_ERROR = None

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "docker_host": {"type": "str", "default": "unix:///var/run/docker.sock"},
    "images": {"type": "list", "elements": "dict", "required": True},
    "check_registry": {"type": "bool", "default": True},
}


def split_reference(reference: str) -> tuple[str, str]:
    """repository, tag of ``host:port/path/name:tag`` (tag ``latest`` when absent)."""
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        return reference[:colon], reference[colon + 1:]
    return reference, "latest"


@dataclass
class LocalImage:
    """What the engine knows of one reference."""
    image_id: str
    repo_digests: list[str] = field(default_factory=list)


@dataclass
class Plan:
    build: list[str] = field(default_factory=list)
    tag: list[dict[str, str]] = field(default_factory=list)
    push: list[dict[str, str]] = field(default_factory=list)


def publish_references(image: Mapping[str, Any]) -> list[str]:
    return [image["publish"]] if isinstance(image["publish"], str) else list(image["publish"])


def plan_images(images: list[Mapping[str, Any]], local: Callable[[str], LocalImage | None],
                registry_digest: Callable[[str], str | None] | None) -> Plan:
    """The builds, tags and pushes still needed. ``local`` answers None for an absent reference,
    ``registry_digest`` None for a reference the registry lacks (``registry_digest`` None: no push)."""
    plan = Plan()
    for image in images:
        name, source = image["name"], image["source"]
        built = local(source)
        if built is None:
            plan.build.append(name)
        for reference in publish_references(image):
            repository, tag = split_reference(reference)
            if reference != source:
                current = local(reference) if built is not None else None
                if current is None or current.image_id != built.image_id:
                    plan.tag.append({"name": name, "source": source, "repository": repository, "tag": tag})
            if registry_digest is None:
                continue
            digest = registry_digest(reference) if built is not None else None
            if digest is None or f"{repository}@{digest}" not in built.repo_digests:
                plan.push.append({"name": name, "repository": repository, "tag": tag})
    return plan


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if DOCKER_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("docker (Debian: python3-docker)"), exception=DOCKER_IMPORT_ERROR)
    docker_host: str = module.params["docker_host"]
    images: list[dict[str, Any]] = module.params["images"]
    for image in images:
        if not isinstance(image.get("name"), str) or not isinstance(image.get("source"), str) \
                or not isinstance(image.get("publish"), (str, list)):
            module.fail_json(msg=f"each image needs name, source (strings) and publish (a string or a list); got {image}")

    try:
        client = docker.DockerClient(base_url=docker_host)
    except (DockerException, RequestException) as error:
        module.fail_json(msg=f"image_publish_plan: cannot reach the Docker engine at {docker_host}: {error}",
                         exception=traceback.format_exc())

    def local(reference: str) -> LocalImage | None:
        try:
            attrs = client.images.get(reference).attrs
        except ImageNotFound:
            return None
        return LocalImage(attrs["Id"], list(attrs.get("RepoDigests") or []))

    def registry_digest(reference: str) -> str | None:
        # Any failure (unknown manifest, no such repository, a registry that does not answer)
        # means "push it": the push then succeeds or names the real error.
        try:
            return str(client.api.inspect_distribution(reference)["Descriptor"]["digest"])
        except APIError:
            return None

    try:
        digests: dict[str, str | None] | None = None
        if module.params["check_registry"]:
            # One manifest lookup per reference, each a round trip engine -> registry: in parallel.
            references = sorted({ref for image in images for ref in publish_references(image)})
            with ThreadPoolExecutor(max_workers=8) as pool:
                digests = dict(zip(references, pool.map(registry_digest, references)))
        plan = plan_images(images, local, digests.get if digests is not None else None)
    except (DockerException, RequestException) as error:
        module.fail_json(msg=f"image_publish_plan: the Docker engine at {docker_host} failed while looking "
                             f"the images up: {error}", exception=traceback.format_exc())
    module.exit_json(changed=False, build=plan.build, tag=plan.tag, push=plan.push)


if __name__ == "__main__":
    main()
