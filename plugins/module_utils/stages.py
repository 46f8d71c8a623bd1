# Copyright (c) woodyswarm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab sheet's stages, in order (initial, replicas, redis, cdn): the one table of what each deploys.

Python reads it here; roles, playbooks and templates through the lookup woodyswarm.shop.stages.
"""
from __future__ import annotations

from typing import TypedDict


class Stage(TypedDict):
    """One stage: what it deploys beyond the stage before it."""

    label: str  # the comparison table's column
    adds: str  # what the lab sheet does in this stage
    api_scaled: bool  # the api runs stack_api_replicas_scaled (else stack_api_replicas)
    redis: bool  # a Redis cache in front of the api's slow answers
    cdn: bool  # the front's picture served from the CDN host
    stack_file: str  # the lab sheet's name for the stack file


STAGES: dict[str, Stage] = {
    "initial": {"label": "initial", "adds": "the four services, the api 3 times",
                "api_scaled": False, "redis": False, "cdn": False, "stack_file": "stack.yml"},
    "replicas": {"label": "+ replicas", "adds": "docker service scale woodytoys_api=5",
                 "api_scaled": True, "redis": False, "cdn": False, "stack_file": "stack.yml"},
    "redis": {"label": "+ Redis", "adds": "a Redis cache for the api's slow answers",
              "api_scaled": True, "redis": True, "cdn": False, "stack_file": "stack_redis.yml"},
    "cdn": {"label": "+ CDN", "adds": "the front's picture from the CDN host (a CNAME)",
            "api_scaled": True, "redis": True, "cdn": True, "stack_file": "stack_redis_cdn.yml"},
}
