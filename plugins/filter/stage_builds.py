# Copyright (c) woodyswarm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The filter woodyswarm.shop.stage_builds (documented in stage_builds.yml)."""
from __future__ import annotations

from typing import Any, Callable

from ansible_collections.woodyswarm.shop.plugins.module_utils.stage_builds import StageBuildError, stage_builds
from ansible_collections.woodyswarm.shop.plugins.module_utils.stages import STAGES


def _stage_builds(services: list[dict[str, Any]], variants: Any, version: str) -> dict[str, Any]:
    # A table that cannot be built is returned as its error, for the role's assert to say it
    # plainly (a raised filter error reaches the user wrapped in the templating's own words).
    try:
        return {**stage_builds(services, variants, list(STAGES), str(version)), "error": ""}
    except StageBuildError as error:
        return {"builds": [], "stages": {}, "error": str(error)}


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"stage_builds": _stage_builds}
