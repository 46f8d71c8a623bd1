#!/usr/bin/python
"""Ansible module: what a set of images still needs (build, tag, push) before a registry has them."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

DOCUMENTATION = r"""
module: image_publish_plan
short_description: Ask the engine and the registry what is missing before building, tagging or pushing
description:
  - Reads only. For each image, looks up its source reference on the engine and each published
    reference on the engine (same image ID?) and in the registry (a manifest lookup through the
    engine, with the engine client's registry login: does the registry's digest belong to this
    image?). Returns the images to build, the tags to set and the references to push, so a run
    with nothing to do costs one module call instead of a build check, a tag and a push per tag.
options:
  docker_host:
    description: The Docker API of the engine that builds and pushes.
    type: str
    default: unix:///var/run/docker.sock
  images:
    description: "Images to publish: C(name) (a label), C(source) (the local reference it is built as),
      C(publish) (a reference, or a list of them, it must have locally and in the registry; may include C(source))."
    type: list
    elements: dict
    required: true
  check_registry:
    description: Look the references up in the registry (false when nothing is pushed).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Find what is missing
  image_publish_plan:
    images:
      - name: api
        source: registry.example:5000/woody/api:ctx-0123abcd
        publish: [registry.example:5000/woody/api:ctx-0123abcd, registry.example:5000/woody/api:latest]
  register: plan
"""

RETURN = r"""
build:
  description: Names of the images whose source reference is not on the engine.
  type: list
  returned: always
tag:
  description: "C(name), C(source), C(repository), C(tag) of each local tag to set (absent, or on another image)."
  type: list
  returned: always
push:
  description: "C(name), C(repository), C(tag) of each reference the registry lacks or holds for another image."
  type: list
  returned: always
"""


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
        publish = [image["publish"]] if isinstance(image["publish"], str) else image["publish"]
        for reference in publish:
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
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec={
        "docker_host": {"type": "str", "default": "unix:///var/run/docker.sock"},
        "images": {"type": "list", "elements": "dict", "required": True},
        "check_registry": {"type": "bool", "default": True},
    }, supports_check_mode=True)
    try:
        import docker
        from docker.errors import APIError, ImageNotFound
    except ImportError:
        module.fail_json(msg="image_publish_plan needs the Docker SDK for Python (Debian: python3-docker).")
        return
    for image in module.params["images"]:
        if not isinstance(image.get("name"), str) or not isinstance(image.get("source"), str) \
                or not isinstance(image.get("publish"), (str, list)):
            module.fail_json(msg=f"each image needs name, source (strings) and publish (a string or a list); got {image}")
    client = docker.DockerClient(base_url=module.params["docker_host"])

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
            references = sorted({ref for image in module.params["images"]
                                 for ref in ([image["publish"]] if isinstance(image["publish"], str) else image["publish"])})
            with ThreadPoolExecutor(max_workers=8) as pool:
                digests = dict(zip(references, pool.map(registry_digest, references)))
        plan = plan_images(module.params["images"], local, digests.get if digests is not None else None)
    except APIError as error:
        module.fail_json(msg=f"image_publish_plan: the engine at {module.params['docker_host']} failed: {error}")
        return
    module.exit_json(changed=False, build=plan.build, tag=plan.tag, push=plan.push)


if __name__ == "__main__":
    main()
