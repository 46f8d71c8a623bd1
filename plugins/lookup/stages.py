# Copyright (c) woodyswarm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
name: stages
author:
  - woodyswarm maintainers (!UNKNOWN)
short_description: The lab sheet's stages and what each one deploys
description:
  - The one table of the lab sheet's stages (plugins/module_utils/stages.py), for roles,
    playbooks and templates.
  - Without terms, the stages' names in order. With stage names, each one's row.
options:
  _terms:
    description: Names of stages; an unknown name is an error that lists the known ones.
    type: list
    elements: str
    required: false
"""

EXAMPLES = r"""
- name: Refuse an unknown stage
  ansible.builtin.assert:
    that: stack_stage in query('woodyswarm.shop.stages')

- name: Does the stage run Redis?
  ansible.builtin.debug:
    msg: "{{ lookup('woodyswarm.shop.stages', 'redis').redis }}"
"""

RETURN = r"""
_raw:
  description: The stages' names in order (no terms), or the row of each stage asked for.
  type: list
  elements: raw
  contains:
    name:
      description: The stage's name.
      type: str
    label:
      description: Its column in the comparison table.
      type: str
    adds:
      description: What the lab sheet does in this stage.
      type: str
    api_scaled:
      description: Whether the api runs stack_api_replicas_scaled rather than stack_api_replicas.
      type: bool
    redis:
      description: Whether the stage runs the Redis cache.
      type: bool
    cdn:
      description: Whether the front's picture comes from the CDN host.
      type: bool
    stack_file:
      description: The lab sheet's name for the stage's stack file.
      type: str
"""

from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase
from ansible_collections.woodyswarm.shop.plugins.module_utils.stages import STAGES


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[Any]:
        if not terms:
            return list(STAGES)
        unknown = [str(term) for term in terms if term not in STAGES]
        if unknown:
            raise AnsibleError(f"unknown stage {', '.join(unknown)}: the stages are {', '.join(STAGES)}")
        return [{"name": term, **STAGES[term]} for term in terms]
