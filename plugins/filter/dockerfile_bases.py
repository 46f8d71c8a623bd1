# Copyright (c) woodyswarm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filters woodyswarm.shop.dockerfile_bases, image_repository_name and stand_in_plan."""
from __future__ import annotations

from typing import Any, Callable

from ansible_collections.woodyswarm.shop.plugins.module_utils.dockerfile import named_bases, repository_name, stand_in_plan


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"dockerfile_bases": named_bases, "image_repository_name": repository_name,
                "stand_in_plan": stand_in_plan}
