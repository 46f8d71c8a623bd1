#!/usr/bin/python
# Copyright (c) woodyswarm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: plan an in-place edit of a BIND zone file (records added or replaced, serial bumped).

It reads the zone file and returns the candidate content; it never writes. The role writes the
candidate with ansible.builtin.copy (validate: named-checkzone), so a rejected candidate never
replaces the file.
"""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: zone_records
short_description: Plan adding or replacing records in a BIND zone file, leaving every other line as it was
description:
  - Parses the zone file the way named reads it (comments, quoted strings, parenthesised
    multi-line records, C($ORIGIN), blank owners continuing the previous owner, relative, C(@)
    and absolute owner names, case-insensitive) and works out the smallest edit that makes the
    zone hold the wanted records.
  - A wanted record replaces, on its own line, an existing record with the same owner and type;
    a CNAME replaces whatever record its owner holds. Several wanted records with the same owner
    and type form one RRset (round robin). A record the zone lacks is appended at the end.
    Commented-out records are never touched.
  - When a record changed, the SOA serial becomes C(serial_date * 100) if it was below that, else
    it is incremented (YYYYMMDDNN, and a serial already above today's form keeps increasing).
    Only the serial's digits change in the SOA.
  - Fails, before anything changes, on a wanted record at or below a delegation (an owner other
    than the apex holding NS records), which named would not serve; glue A/AAAA records of a name
    server the zone's NS records name are allowed.
  - Returns the candidate content; never writes (write it with M(ansible.builtin.copy) and
    C(validate=named-checkzone), so a rejected candidate never replaces the file). Without
    O(path), only checks and normalises the records (to refuse bad records before anything
    changes, and for RFC 2136 updates).
  - A refused record is named by its index, C(records[<index>]), then its name, type and value, and
    the message says what is wrong with it.
author:
  - woodyswarm maintainers (!UNKNOWN)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads only, in check mode or not.
  diff_mode:
    support: full
    details: Returns RV(diff) (file and candidate) with O(path).
  platform:
    platforms: posix
options:
  path:
    description: The zone file to read. Omit to only normalise O(records).
    type: path
  origin:
    description: The zone's name (its initial C($ORIGIN)), with or without the trailing dot.
    type: str
    required: true
  records:
    description:
      - Wanted records; each C({name, type, value, ttl}). C(name) is relative to O(origin), C(@),
        or absolute with a trailing dot inside the zone. C(ttl) is optional; without it an
        existing record keeps its TTL and a new one takes the zone's C($TTL).
    type: list
    elements: dict
    required: true
  serial_date:
    description: Today as YYYYMMDD, for the serial. Required with O(path).
    type: str
seealso:
  - module: ansible.builtin.copy
  - module: community.general.nsupdate
"""

EXAMPLES = r"""
---
- name: Work out the edit of the zone (reads only)
  woodyswarm.shop.zone_records:
    path: /etc/bind/db.woodytoys.lab
    origin: woodytoys.lab
    serial_date: "{{ now(fmt='%Y%m%d') }}"
    records:
      - {name: www, type: A, value: 192.0.2.10}
      - {name: www, type: A, value: 192.0.2.11}
      - {name: cdn, type: CNAME, value: edge.example.net., ttl: 300}
  register: zone_plan
  changed_when: false

- name: Write the candidate once named-checkzone accepts it
  ansible.builtin.copy:
    content: "{{ zone_plan.content }}"
    dest: /etc/bind/db.woodytoys.lab
    mode: "{{ zone_plan.mode }}"
    validate: named-checkzone woodytoys.lab %s
  when: zone_plan.new_serial != zone_plan.old_serial

- name: Only check and group the records, for an RFC 2136 update
  woodyswarm.shop.zone_records:
    origin: woodytoys.lab
    records: [{name: www, type: A, value: 192.0.2.10}]
  register: zone_rrsets
"""

RETURN = r"""
---
changed:
  description: Whether the candidate differs from the file (nothing is written either way).
  type: bool
  returned: always
content:
  description: The candidate zone file (the file as it is when nothing changes).
  type: str
  returned: with path
old_serial:
  description: The SOA serial in the file.
  type: int
  returned: with path
new_serial:
  description: The SOA serial of the candidate (RV(old_serial) when nothing changes).
  type: int
  returned: with path
serial:
  description: Same as new_serial, the serial the zone has once the candidate is written.
  type: int
  returned: with path
changes:
  description: One line per edit (line numbers are the file's, 1-based).
  type: list
  elements: str
  returned: always
diff:
  description: Before and after, for C(--diff).
  type: dict
  returned: with path
checksum:
  description: sha1 of the file as read (hex), as ansible.builtin.stat and find report it.
  type: str
  returned: with path
mode:
  description: The file's permission bits, octal (e.g. C(0644)), to keep them when the candidate replaces it.
  type: str
  returned: with path
unified_diff:
  description: Unified diff between the file and the candidate.
  type: str
  returned: with path
rrsets:
  description: The wanted records grouped by owner and type; each C({fqdn, type, values, ttl}).
  type: list
  elements: dict
  returned: always
expected_answers:
  description: C("<owner fqdn> <type> <value>") in lower case, one per wanted record, as dig shows them.
  type: list
  elements: str
  returned: always
"""

import difflib
import hashlib
import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "path": {"type": "path"},
    "origin": {"type": "str", "required": True},
    "records": {"type": "list", "elements": "dict", "required": True},
    "serial_date": {"type": "str"},
}

SUPPORTED_TYPES = ("A", "AAAA", "CNAME")
ADDRESS_KINDS = {"A": "an IPv4 address", "AAAA": "an IPv6 address"}
CLASSES = {"IN", "CH", "CHAOS", "HS", "HESIOD", "CS"}
TTL_RE = re.compile(r"^(\d+|(\d+[wdhms])+)$", re.IGNORECASE)
TTL_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
LABEL = r"(\*|[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)"
HOSTNAME_RE = re.compile(rf"^{LABEL}(\.{LABEL})*\.?$", re.IGNORECASE)
MAX_TTL = 2147483647
MAX_SERIAL = 4294967295


class ZoneError(ValueError):
    """The zone file or the wanted records cannot be handled; the message says why."""


@dataclass
class Token:
    text: str
    line: int
    start: int
    end: int
    quoted: bool = False


@dataclass
class Entry:
    """One resource record of the file, spanning lines first..last (0-based, inclusive)."""

    index: int
    first: int
    last: int
    owner: str
    owner_token: Token | None
    ttl_token: Token | None
    class_token: Token | None
    type_token: Token
    rdata: list[Token]
    origin: str

    @property
    def rtype(self) -> str:
        return self.type_token.text.upper()

    @property
    def ttl(self) -> int | None:
        return parse_ttl(self.ttl_token.text) if self.ttl_token else None


@dataclass
class Zone:
    lines: list[str]
    entries: list[Entry]
    final_origin: str
    serial_token: Token
    newline: str


@dataclass
class Wanted:
    name: str
    fqdn: str
    rtype: str
    value: str
    canonical: str
    ttl: int | None


@dataclass
class RRset:
    fqdn: str
    rtype: str
    records: list[Wanted] = field(default_factory=list)


# --- Names, TTLs and serials ---------------------------------------------------------------------

def fqdn(name: str) -> str:
    """The name with exactly one trailing dot, lower case."""
    return name.rstrip(".").lower() + "."


def absolute(name: str, origin: str) -> str:
    """The absolute, lower-case form of a zone-file name read under origin (absolute, with dot)."""
    if name == "@":
        return origin
    if name.endswith(".") and not name.endswith("\\."):
        return name.lower()
    return (name + "." + origin).lower() if origin != "." else (name + ".").lower()


def relative_to(name: str, origin: str) -> str:
    """How an absolute name is written under origin: @, relative, or absolute."""
    if name == origin:
        return "@"
    if name.endswith("." + origin):
        return name[: -len(origin) - 1]
    return name


def in_zone(name: str, origin: str) -> bool:
    return name == origin or name.endswith("." + origin)


def parse_ttl(text: str) -> int:
    if text.isdigit():
        return int(text)
    return sum(int(n) * TTL_UNITS[u.lower()] for n, u in re.findall(r"(\d+)([wdhms])", text, re.IGNORECASE))


def next_serial(current: int, serial_date: str) -> int:
    """today*100 when the serial is below today's YYYYMMDD00, else the serial plus one."""
    if not re.fullmatch(r"\d{8}", serial_date):
        raise ZoneError(f"serial_date must be YYYYMMDD (got {serial_date!r})")
    today = int(serial_date) * 100
    new = today if current < today else current + 1
    if new > MAX_SERIAL:
        raise ZoneError(f"the serial {current} cannot grow past {MAX_SERIAL}; reset it by hand (RFC 1982)")
    return new


# --- Reading the zone file ----------------------------------------------------------------------

def tokenize(text: str, line: int) -> tuple[list[Token], int]:
    """Tokens of one line (without its end of line) and its parenthesis balance."""
    tokens: list[Token] = []
    depth = 0
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in " \t":
            i += 1
        elif char == ";":
            break
        elif char in "()":
            depth += 1 if char == "(" else -1
            i += 1
        elif char == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j, n)  # an unterminated string ends with the line
            tokens.append(Token(text[i + 1:j], line, i, min(j + 1, n), quoted=True))
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in " \t;()\"":
                j += 2 if text[j] == "\\" else 1
            j = min(j, n)
            tokens.append(Token(text[i:j], line, i, j))
            i = j
    return tokens, depth


def strip_eol(line: str) -> str:
    return line.rstrip("\r\n")


def parse_zone(text: str, origin: str) -> Zone:
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    entries: list[Entry] = []
    current_origin = origin
    last_owner: str | None = None
    serial_token: Token | None = None
    i = 0
    while i < len(lines):
        body = strip_eol(lines[i])
        tokens, depth = tokenize(body, i)
        if not tokens:
            i += 1
            continue
        if body[:1] == "$":
            directive = tokens[0].text.upper()
            if directive == "$ORIGIN" and len(tokens) > 1:
                current_origin = absolute(tokens[1].text, current_origin)
            i += 1
            continue
        first = i
        while depth > 0 and i + 1 < len(lines):
            i += 1
            more, delta = tokenize(strip_eol(lines[i]), i)
            tokens += more
            depth += delta
        if depth != 0:
            raise ZoneError(f"line {first + 1}: unbalanced parentheses")
        blank_owner = body[:1] in (" ", "\t")
        owner_token = None if blank_owner else tokens[0]
        if owner_token is not None:
            last_owner = absolute(owner_token.text, current_origin)
        if last_owner is None:
            raise ZoneError(f"line {first + 1}: a record without an owner and no previous owner")
        fields = tokens if blank_owner else tokens[1:]
        ttl_token = class_token = None
        while fields and len(fields) > 1:
            head = fields[0]
            if ttl_token is None and TTL_RE.match(head.text):
                ttl_token = head
            elif class_token is None and head.text.upper() in CLASSES:
                class_token = head
            else:
                break
            fields = fields[1:]
        if not fields:
            raise ZoneError(f"line {first + 1}: a record without a type")
        entry = Entry(len(entries), first, i, last_owner, owner_token, ttl_token, class_token,
                      fields[0], fields[1:], current_origin)
        entries.append(entry)
        if entry.rtype == "SOA" and entry.owner == origin and serial_token is None:
            if len(entry.rdata) < 3 or not entry.rdata[2].text.isdigit():
                raise ZoneError(f"line {first + 1}: the SOA has no numeric serial")
            serial_token = entry.rdata[2]
        i += 1
    if serial_token is None:
        raise ZoneError(f"no SOA record for {origin} in the file")
    return Zone(lines, entries, current_origin, serial_token, newline)


# --- Wanted records -----------------------------------------------------------------------------

def canonical_value(rtype: str, value: str, origin: str) -> str:
    if rtype == "A":
        return str(ipaddress.IPv4Address(value))
    if rtype == "AAAA":
        return str(ipaddress.IPv6Address(value))
    if rtype == "CNAME":
        return absolute(value, origin)
    return value


def entry_value(entry: Entry) -> str:
    text = " ".join(t.text for t in entry.rdata)
    try:
        return canonical_value(entry.rtype, text, entry.origin)
    except ValueError:
        return text.lower()


def wanted_records(records: Iterable[Mapping[str, Any]], origin: str) -> list[RRset]:
    """Check the wanted records and group them by owner and type, in the order given."""
    rrsets: dict[tuple[str, str], RRset] = {}
    records = list(records)
    if not records:
        raise ZoneError("records is empty: give at least one {name, type, value}")
    for index, record in enumerate(records):
        given = [str(record.get(key) or "") for key in ("name", "type", "value")]
        where = f"records[{index}] ({' '.join(text or '?' for text in given)})"
        missing = [key for key, text in zip(("name", "type", "value"), given) if text == ""]
        if missing:
            raise ZoneError(f"{where} lacks {', '.join(missing)}")
        name, rtype, value = given[0], given[1].upper(), given[2]
        if rtype not in SUPPORTED_TYPES:
            raise ZoneError(f"{where}: type {rtype} is not one of {', '.join(SUPPORTED_TYPES)}")
        if name != "@" and not HOSTNAME_RE.match(name):
            raise ZoneError(f"{where}: name {name!r} is not a DNS name (@, a name relative to the zone, "
                            "or an absolute name ending with a dot; no spaces)")
        owner = absolute(name, origin)
        if not in_zone(owner, origin):
            raise ZoneError(f"{where}: name {name!r} is outside the zone {origin}")
        if rtype == "CNAME" and owner == origin:
            raise ZoneError(f"{where}: a CNAME cannot sit at the zone apex {origin}")
        if rtype == "CNAME" and not HOSTNAME_RE.match(value):
            raise ZoneError(f"{where}: CNAME target {value!r} is not a DNS name")
        try:
            canonical = canonical_value(rtype, value, origin)
        except ValueError:
            raise ZoneError(f"{where}: value {value!r} is not {ADDRESS_KINDS.get(rtype, f'a valid {rtype} value')}") from None
        ttl = record.get("ttl")
        if ttl is not None and ttl != "":
            if not re.fullmatch(r"[0-9]+", str(ttl)) or int(ttl) > MAX_TTL:
                raise ZoneError(f"{where}: ttl must be a number of seconds from 0 to {MAX_TTL} (got {ttl!r})")
            ttl = int(ttl)
        else:
            ttl = None
        rrset = rrsets.setdefault((owner, rtype), RRset(owner, rtype))
        if any(w.canonical == canonical for w in rrset.records):
            raise ZoneError(f"{where}: {name} {rtype} {value} is listed twice")
        rrset.records.append(Wanted(name, owner, rtype, value, canonical, ttl))
    for rrset in rrsets.values():
        if rrset.rtype == "CNAME" and len(rrset.records) > 1:
            raise ZoneError(f"{rrset.fqdn} is given {len(rrset.records)} CNAME targets; a name has one")
        if rrset.rtype == "CNAME" and any(o == rrset.fqdn and t != "CNAME" for o, t in rrsets):
            raise ZoneError(f"{rrset.fqdn} is given a CNAME and other records; a CNAME stands alone")
        ttls = {w.ttl for w in rrset.records if w.ttl is not None}
        if len(ttls) > 1:
            raise ZoneError(f"{rrset.fqdn} {rrset.rtype}: the records of one RRset need one ttl (got {sorted(ttls)})")
    return list(rrsets.values())


def refuse_occluded(zone: Zone, rrsets: list[RRset], origin: str) -> None:
    """Refuse a wanted record at or below a zone cut (an NS RRset other than the apex's).

    named answers such a name with a referral and never serves what the file holds there, so the
    edit would pass named-checkzone, bump the serial and reload, and only the dig check would fail
    later. Glue (an address of a name server that an NS record of the zone names) is the data below
    a cut named does use, so it stays allowed; the cut's own NS records are not a type this module
    writes.
    """
    cuts: dict[str, list[str]] = {}
    targets: set[str] = set()
    for entry in zone.entries:
        if entry.rtype == "NS" and entry.rdata:
            target = absolute(entry.rdata[0].text, entry.origin)
            targets.add(target)
            if entry.owner != origin and in_zone(entry.owner, origin):
                cuts.setdefault(entry.owner, []).append(target)
    for rrset in rrsets:
        if rrset.rtype in ("A", "AAAA") and rrset.fqdn in targets:
            continue
        # The highest cut above the name is the one whose referral hides it.
        cut = next((c for c in sorted(cuts, key=len) if in_zone(rrset.fqdn, c)), None)
        if cut is not None:
            raise ZoneError(f"{rrset.fqdn} lies at or below the delegation {cut} (NS {', '.join(cuts[cut])}): "
                            "named would not serve it; edit the delegated zone instead")


# --- Planning the edit --------------------------------------------------------------------------

@dataclass
class Plan:
    replace: dict[int, Wanted] = field(default_factory=dict)
    delete: set[int] = field(default_factory=set)
    insert_after: dict[int, list[Wanted]] = field(default_factory=dict)
    append: list[Wanted] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.replace or self.delete or self.insert_after or self.append)


def conflicts(entry: Entry, rrset: RRset) -> bool:
    return entry.owner == rrset.fqdn and (rrset.rtype == "CNAME" or entry.rtype == rrset.rtype)


def matches(entry: Entry, wanted: Wanted) -> bool:
    return (entry.rtype == wanted.rtype and entry_value(entry) == wanted.canonical
            and (wanted.ttl is None or entry.ttl == wanted.ttl))


def plan_edit(zone: Zone, rrsets: list[RRset]) -> Plan:
    plan = Plan()
    for rrset in rrsets:
        existing = [e for e in zone.entries if conflicts(e, rrset)]
        if not existing:
            plan.append += rrset.records
            continue
        unmatched = list(rrset.records)
        leftover: list[Entry] = []
        for entry in existing:
            found = next((w for w in unmatched if matches(entry, w)), None)
            if found is None:
                leftover.append(entry)
            else:
                unmatched.remove(found)
        for entry, wanted in zip(leftover, unmatched):
            plan.replace[entry.index] = wanted
        plan.delete.update(e.index for e in leftover[len(unmatched):])
        if len(unmatched) > len(leftover):
            plan.insert_after.setdefault(existing[-1].index, []).extend(unmatched[len(leftover):])
    return plan


# --- Writing the candidate ----------------------------------------------------------------------

def render_name(given: str, name: str, zone_origin: str, origin: str) -> str:
    """A name as the caller gave it when that reads the same here, else relative to origin or absolute."""
    if given.endswith(".") or (origin == zone_origin and absolute(given, origin) == name):
        return given
    return relative_to(name, origin)


def render_value(wanted: Wanted, zone_origin: str, origin: str) -> str:
    if wanted.rtype == "CNAME":
        return render_name(wanted.value, wanted.canonical, zone_origin, origin)
    return wanted.value


def fresh_line(wanted: Wanted, zone_origin: str, origin: str, owner_field: str | None = None) -> str:
    owner = owner_field if owner_field is not None else render_name(wanted.name, wanted.fqdn, zone_origin, origin)
    value = render_value(wanted, zone_origin, origin)
    ttl = f"{wanted.ttl}\t" if wanted.ttl is not None else ""
    return f"{owner}\t{ttl}IN\t{wanted.rtype}\t{value}"


def replaced_line(zone: Zone, entry: Entry, wanted: Wanted, zone_origin: str, explicit_owner: str | None) -> str:
    """The entry's first line with only what differs rewritten (type, value, TTL if asked)."""
    body = strip_eol(zone.lines[entry.first])
    value = render_value(wanted, zone_origin, entry.origin)
    if entry.type_token.line != entry.first:
        owner_field = explicit_owner or (body[: entry.owner_token.end] if entry.owner_token else "\t")
        return fresh_line(wanted, zone_origin, entry.origin, owner_field)
    prefix = body[: entry.type_token.start]
    if wanted.ttl is not None and wanted.ttl != entry.ttl:
        if entry.ttl_token is not None and entry.ttl_token.line == entry.first:
            prefix = prefix[: entry.ttl_token.start] + str(wanted.ttl) + prefix[entry.ttl_token.end:]
        else:
            fields_start = entry.class_token.start if entry.class_token else entry.type_token.start
            prefix = prefix[:fields_start] + f"{wanted.ttl} " + prefix[fields_start:]
    if explicit_owner is not None:
        prefix = explicit_owner + prefix
    rdata_on_line = [t for t in entry.rdata if t.line == entry.first]
    gap = body[entry.type_token.end: rdata_on_line[0].start] if rdata_on_line else ""
    gap = gap if gap.strip() == "" and gap else " "
    if gap.strip(" ") == "":  # spaces only: keep the value in its column
        gap = " " * max(1, len(entry.type_token.text) + len(gap) - len(wanted.rtype))
    # A one-line record keeps its trailing comment (and the spacing before it).
    tail = body[entry.rdata[-1].end:] if entry.first == entry.last and entry.rdata else ""
    tail = tail if tail.lstrip().startswith(";") else ""
    return f"{prefix}{wanted.rtype}{gap}{value}{tail}"


def apply_plan(zone: Zone, plan: Plan, zone_origin: str) -> tuple[list[str], list[str]]:
    """The candidate's lines (with ends of line) and one description per edit."""
    nl = zone.newline
    out: list[str] = []
    changes: list[str] = []
    by_first = {e.first: e for e in zone.entries}
    carried: str | None = None  # owner of a removed line that later blank-owner lines relied on
    i = 0
    while i < len(zone.lines):
        entry = by_first.get(i)
        if entry is None:
            out.append(zone.lines[i])
            i += 1
            continue
        span = zone.lines[entry.first: entry.last + 1]
        explicit = None
        if entry.owner_token is not None:
            carried = None
        elif carried is not None:
            explicit = relative_to(entry.owner, entry.origin)
        where = f"line {entry.first + 1}" if entry.first == entry.last else f"lines {entry.first + 1}-{entry.last + 1}"
        if entry.index in plan.delete:
            if entry.owner_token is not None:
                carried = entry.owner
            changes.append(f"{where}: removed {' '.join(strip_eol(s).strip() for s in span)}")
        elif entry.index in plan.replace:
            new = replaced_line(zone, entry, plan.replace[entry.index], zone_origin, explicit)
            out.append(new + nl)
            carried = None
            changes.append(f"{where}: replaced {' '.join(strip_eol(s).strip() for s in span)} with {new.strip()}")
        elif explicit is not None:
            out.append(explicit + span[0])
            out += span[1:]
            carried = None
            changes.append(f"line {entry.first + 1}: owner {explicit} written out (the line above it was removed)")
        else:
            out += span
        for wanted in plan.insert_after.get(entry.index, []):
            new = fresh_line(wanted, zone_origin, entry.origin)
            out.append(new + nl)
            changes.append(f"after line {entry.last + 1}: added {new}")
        i = entry.last + 1
    if plan.append:
        if out and not out[-1].endswith(("\n", "\r")):
            out[-1] += nl
        for wanted in plan.append:
            new = fresh_line(wanted, zone_origin, zone.final_origin)
            out.append(new + nl)
            changes.append(f"end of file: added {new}")
    return out, changes


def set_serial(lines: list[str], token: Token, serial: int) -> list[str]:
    lines = list(lines)
    line = lines[token.line]
    lines[token.line] = line[: token.start] + str(serial) + line[token.end:]
    return lines


def edit_zone(text: str, origin: str, records: Iterable[Mapping[str, Any]], serial_date: str) -> dict[str, Any]:
    """Plan the edit of a zone file's text; returns the candidate and what changed."""
    zone_origin = fqdn(origin)
    rrsets = wanted_records(records, zone_origin)
    zone = parse_zone(text, zone_origin)
    refuse_occluded(zone, rrsets, zone_origin)
    old_serial = int(zone.serial_token.text)
    plan = plan_edit(zone, rrsets)
    new_serial = old_serial
    changes: list[str] = []
    content = text
    if not plan.empty:
        new_serial = next_serial(old_serial, serial_date)
        # The plan never edits the SOA, and the tokens it uses on other lines keep their columns.
        zone.lines = set_serial(zone.lines, zone.serial_token, new_serial)
        lines, changes = apply_plan(zone, plan, zone_origin)
        changes.append(f"line {zone.serial_token.line + 1}: serial {old_serial} -> {new_serial}")
        content = "".join(lines)
    return {
        "changed": content != text,
        "content": content,
        "old_serial": old_serial,
        "new_serial": new_serial,
        "serial": new_serial,
        "changes": changes,
        "rrsets": rrsets_result(rrsets),
        "expected_answers": expected_answers(rrsets),
    }


def rrsets_result(rrsets: list[RRset]) -> list[dict[str, Any]]:
    return [{"fqdn": r.fqdn, "type": r.rtype, "values": [w.value for w in r.records],
             "ttl": next((w.ttl for w in r.records if w.ttl is not None), None)} for r in rrsets]


def expected_answers(rrsets: list[RRset]) -> list[str]:
    return [f"{w.fqdn} {w.rtype} {w.canonical}".lower() for r in rrsets for w in r.records]


def unified(before: str, after: str, path: str) -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=path, tofile=f"{path} (candidate)"))


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_by={"path": "serial_date"}, supports_check_mode=True)
    params = module.params
    try:
        if params["path"] is None:
            rrsets = wanted_records(params["records"], fqdn(params["origin"]))
            module.exit_json(changed=False, changes=[], rrsets=rrsets_result(rrsets),
                             expected_answers=expected_answers(rrsets))
        path = Path(params["path"])
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except OSError as error:
            module.fail_json(msg=f"cannot read the zone file {path}: {error.strerror}")
        except UnicodeDecodeError as error:
            module.fail_json(msg=f"the zone file {path} is not UTF-8 (byte {error.start}); it is left alone")
        result = edit_zone(text, params["origin"], params["records"], params["serial_date"])
    except ZoneError as error:
        module.fail_json(msg=f"{params.get('path') or params['origin']}: {error}")
    result["mode"] = f"{path.stat().st_mode & 0o7777:04o}"
    result["checksum"] = hashlib.sha1(raw).hexdigest()  # noqa: S324 - the checksum Ansible compares files by
    result["unified_diff"] = unified(text, result["content"], str(path))
    result["diff"] = {"before": text, "after": result["content"], "before_header": str(path),
                      "after_header": f"{path} (candidate)"}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
