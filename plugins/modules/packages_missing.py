#!/usr/bin/python
# Copyright (c) woodyswarm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: which of some Debian packages are not installed (one dpkg-query, no apt cache)."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: packages_missing
short_description: The Debian packages of a list that dpkg does not have installed
description:
  - Reads only, with one C(dpkg-query) call, so a role calls M(ansible.builtin.apt) only when
    something is missing.
  - Loading apt's cache (M(ansible.builtin.package_facts), or M(ansible.builtin.apt) with every
    package present) costs seconds on every run; this costs milliseconds.
  - A package counts as installed only when dpkg reports it fully installed (C(ii)); removed,
    half-installed and unknown names are missing.
author:
  - woodyswarm maintainers (!UNKNOWN)
requirements:
  - C(dpkg-query) (Debian and its derivatives)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads only.
  diff_mode:
    support: none
  platform:
    platforms: debian
options:
  names:
    description: Package names (no versions, no globs). An empty list returns an empty RV(missing).
    type: list
    elements: str
    required: true
seealso:
  - module: ansible.builtin.apt
  - module: ansible.builtin.package_facts
"""

EXAMPLES = r"""
---
- name: Find which DNS tools are missing
  woodyswarm.shop.packages_missing:
    names: [bind9-utils, bind9-dnsutils]
  register: dns_tools

- name: Install them, and refresh the package lists only then
  ansible.builtin.apt:
    name: "{{ dns_tools.missing }}"
    update_cache: true
  when: dns_tools.missing | length > 0
"""

RETURN = r"""
---
missing:
  description: The names not installed, in the order given.
  type: list
  elements: str
  returned: always
  sample: [bind9-dnsutils]
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {"names": {"type": "list", "elements": "str", "required": True}}


def installed_from(dpkg_output: str) -> set[str]:
    """Names whose status is installed, from lines ``name<TAB>status-abbrev`` (``ii `` = installed)."""
    installed = set()
    for line in dpkg_output.splitlines():
        name, _tab, status = line.partition("\t")
        if status.startswith("ii"):
            installed.add(name.split(":", 1)[0])  # name:arch for multi-arch packages
    return installed


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    names: list[str] = module.params["names"]
    if not names:
        module.exit_json(changed=False, missing=[])
    dpkg_query = module.get_bin_path("dpkg-query", required=True)
    # rc 1 only says that some names are unknown to dpkg: those are missing too.
    rc, out, err = module.run_command([dpkg_query, "-W", "-f=${Package}\t${db:Status-Abbrev}\n", "--", *names])
    if rc not in (0, 1):
        module.fail_json(msg=f"dpkg-query failed ({rc}): {err.strip()}")
    installed = installed_from(out)
    module.exit_json(changed=False, missing=[name for name in names if name not in installed])


if __name__ == "__main__":
    main()
