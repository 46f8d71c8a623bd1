#!/usr/bin/python
"""Ansible module: which of some Debian packages are not installed (one dpkg-query, no apt cache)."""
from __future__ import annotations

DOCUMENTATION = r"""
module: packages_missing
short_description: The Debian packages of a list that dpkg does not have installed
description:
  - Reads only, with one C(dpkg-query) call: loading apt's cache (C(package_facts), or C(apt)
    with every package present) costs seconds on every run, this costs milliseconds, so a role
    calls C(apt) only when something is missing.
options:
  names:
    description: Package names (no versions, no globs).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Find which DNS tools are missing
  packages_missing:
    names: [bind9-utils, bind9-dnsutils]
  register: dns_tools

- name: Install them
  ansible.builtin.apt:
    name: "{{ dns_tools.missing }}"
    update_cache: true
  when: dns_tools.missing | length > 0
"""

RETURN = r"""
missing:
  description: The names not installed, in the given order.
  type: list
  returned: always
"""


def installed_from(dpkg_output: str) -> set[str]:
    """Names whose status is installed, from lines ``name<TAB>status-abbrev`` (``ii `` = installed)."""
    installed = set()
    for line in dpkg_output.splitlines():
        name, _, status = line.partition("\t")
        if status.startswith("ii"):
            installed.add(name.split(":", 1)[0])  # name:arch for multi-arch packages
    return installed


def main() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec={"names": {"type": "list", "elements": "str", "required": True}},
                           supports_check_mode=True)
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
