"""zone_records edits only what it must: the record's own line, the serial's digits, or a new line at the end."""
from __future__ import annotations

import difflib
import importlib.util
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("zone_records", ROOT / "plugins/modules/zone_records.py")
assert _SPEC and _SPEC.loader
zr = importlib.util.module_from_spec(_SPEC)
sys.modules["zone_records"] = zr  # dataclasses look their module up
_SPEC.loader.exec_module(zr)

REAL = (ROOT / "tests/roles/fixtures/zones/db.woodytoys.lab").read_text()
SMALL = (ROOT / "tests/roles/fixtures/zones/db.small.lab").read_text()
DATE = "20250610"
CDN = {"name": "cdn", "type": "CNAME", "value": "edge.woodytoys.lab."}


def edit(text: str, *records: dict, origin: str = "woodytoys.lab", date: str = DATE) -> dict:
    return zr.edit_zone(text, origin, list(records), date)


def changes(before: str, after: str) -> list[tuple[str, list[str], list[str]]]:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    return [(tag, old[i1:i2], new[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def zone(body: str, serial: int = 2024031502) -> str:
    """A small zone (origin woodytoys.lab) with a one-line SOA, then body."""
    head = (f"$TTL 3600\n{SOA_LINE.format(serial)}"
            "@ IN NS ns\nns IN A 192.0.2.53\n")
    return head + textwrap.dedent(body)


SOA_LINE = "@ IN SOA ns.woodytoys.lab. admin.woodytoys.lab. {} 3600 900 604800 300\n"


# --- serial ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("current", "expected"), [
    (2024031502, 2025061000),  # an earlier day
    (1, 2025061000),  # a counter
    (1750000000, 2025061000),  # a Unix time of 2025 is below YYYYMMDD00: jumps to today's form, still up
    (2025061000, 2025061001),  # today
    (2025061042, 2025061043),
    (2025061099, 2025061100),  # a 100th change today still increases
    (2200000000, 2200000001),  # a Unix time above today's form
    (2030010105, 2030010106),  # a future date
])
def test_next_serial(current, expected):
    assert zr.next_serial(current, DATE) == expected


def test_serial_cannot_pass_32_bits():
    with pytest.raises(zr.ZoneError, match="RFC 1982"):
        zr.next_serial(4294967295, DATE)


def test_serial_date_must_be_a_date():
    with pytest.raises(zr.ZoneError, match="YYYYMMDD"):
        zr.next_serial(1, "2025-06-10")


def test_only_the_serial_digits_change_in_a_multi_line_soa():
    result = edit(REAL, {"name": "img", "type": "A", "value": "192.0.2.7"})
    diff = changes(REAL, result["content"])
    assert diff[0] == ("replace", ["                        2024031502      ; serial (YYYYMMDDNN)\n"],
                       ["                        2025061000      ; serial (YYYYMMDDNN)\n"])
    assert (result["old_serial"], result["new_serial"], result["serial"]) == (2024031502, 2025061000, 2025061000)


def test_serial_of_a_different_length_keeps_the_rest_of_the_soa_line():
    text = zone("www IN A 192.0.2.1\n", serial=7)
    result = edit(text, {"name": "www", "type": "A", "value": "192.0.2.2"})
    assert SOA_LINE.format(2025061000) in result["content"]


def test_serial_unchanged_without_change():
    result = edit(REAL, {"name": "cdn", "type": "CNAME", "value": "static.woodytoys.lab."})
    assert result["changed"] is False
    assert result["content"] == REAL
    assert result["old_serial"] == result["new_serial"] == 2024031502
    assert result["changes"] == []


# --- replacing in place ------------------------------------------------------------------------

def test_cname_replaced_on_its_own_line_comment_twin_untouched():
    result = edit(REAL, CDN)
    assert result["changed"] is True
    assert changes(REAL, result["content"])[1:] == [
        ("replace", ["cdn             IN      CNAME   static.woodytoys.lab.   ; TP9: the CDN\n"],
         ["cdn             IN      CNAME   edge.woodytoys.lab.   ; TP9: the CDN\n"])]
    assert ";cdn            IN      CNAME   old.woodytoys.lab.\n" in result["content"]


def test_second_edit_is_a_no_op():
    first = edit(REAL, CDN, {"name": "img", "type": "A", "value": "192.0.2.7", "ttl": 300})
    second = edit(first["content"], CDN, {"name": "img", "type": "A", "value": "192.0.2.7", "ttl": 300},
                  date="20250611")
    assert second["changed"] is False
    assert second["content"] == first["content"]
    assert second["new_serial"] == first["new_serial"]


@pytest.mark.parametrize("name", ["cdn", "CDN", "cdn.woodytoys.lab.", "CDN.WoodyToys.Lab."])
def test_owner_forms_and_case_find_the_same_record(name):
    result = edit(REAL, {"name": name, "type": "CNAME", "value": "edge.woodytoys.lab."})
    assert len(changes(REAL, result["content"])) == 2  # the serial and the cdn line
    assert "cdn             IN      CNAME   edge.woodytoys.lab." in result["content"]


def test_absolute_owner_in_the_file_matches_a_relative_name():
    result = edit(REAL, {"name": "api", "type": "A", "value": "192.0.2.101"})
    assert changes(REAL, result["content"])[1] == (
        "replace", ["api.woodytoys.lab.      IN      A       192.0.2.100\n"],
        ["api.woodytoys.lab.      IN      A       192.0.2.101\n"])


def test_upper_case_owner_keeps_its_ttl_and_comment():
    result = edit(REAL, {"name": "www2", "type": "A", "value": "192.0.2.82"})
    assert changes(REAL, result["content"])[1] == (
        "replace", ["WWW2            300 IN  A       192.0.2.81      ; upper-case owner, own TTL\n"],
        ["WWW2            300 IN  A       192.0.2.82      ; upper-case owner, own TTL\n"])


def test_blank_owner_line_is_the_previous_owners():
    result = edit(REAL, {"name": "www", "type": "AAAA", "value": "2001:db8::81"})
    assert changes(REAL, result["content"])[1] == (
        "replace", ["                IN      AAAA    2001:db8::80\n"],
        ["                IN      AAAA    2001:db8::81\n"])


def test_apex_name_is_written_as_at():
    text = zone("www IN A 192.0.2.1\n")
    # The apex A does not exist yet: appended, written as @.
    result = edit(text, {"name": "@", "type": "A", "value": "192.0.2.9"})
    assert result["content"].endswith("www IN A 192.0.2.1\n@\tIN\tA\t192.0.2.9\n")


def test_name_under_a_later_origin():
    result = edit(REAL, {"name": "front.shop", "type": "A", "value": "192.0.2.112"})
    assert changes(REAL, result["content"])[1] == (
        "replace", ["front           IN      A       192.0.2.110\n"], ["front           IN      A       192.0.2.112\n"])


def test_relative_origin_directive():
    text = zone("$ORIGIN shop\nfront IN A 192.0.2.1\n")
    result = edit(text, {"name": "front.shop.woodytoys.lab.", "type": "A", "value": "192.0.2.2"})
    assert "front IN A 192.0.2.2\n" in result["content"]
    assert "front IN A 192.0.2.1" not in result["content"]


def test_cname_target_given_relative_matches_the_absolute_one():
    result = edit(REAL, {"name": "cdn", "type": "CNAME", "value": "static"})
    assert result["changed"] is False


def test_cname_replaces_an_a_record_and_keeps_the_columns():
    result = edit(REAL, {"name": "front.shop", "type": "CNAME", "value": "edge"})
    assert changes(REAL, result["content"])[1] == (
        "replace", ["front           IN      A       192.0.2.110\n"],
        ["front           IN      CNAME   edge.woodytoys.lab.\n"])  # relative target written absolute under shop.


def test_cname_replaces_a_multi_line_record_with_one_line():
    result = edit(REAL, {"name": "mail._domainkey", "type": "CNAME", "value": "dkim.example.net."})
    assert changes(REAL, result["content"])[1] == (
        "replace",
        ['mail._domainkey IN      TXT     ( "v=DKIM1; k=rsa; "\n',
         '                                  "p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAx"\n',
         '                                  "3QIDAQAB" )  ; rotated 2024-02\n'],
        ["mail._domainkey IN      CNAME dkim.example.net.\n"])


def test_cname_removes_every_other_record_of_its_owner_and_blank_owners_keep_theirs():
    text = zone("""\
        web IN A 192.0.2.1
            IN TXT "web"
            IN AAAA 2001:db8::1
        other IN A 192.0.2.2
        web IN MX 10 mail
            IN TXT "again"
        """)
    result = edit(text, {"name": "web", "type": "CNAME", "value": "edge.woodytoys.lab."})
    body = result["content"].split("ns IN A 192.0.2.53\n", 1)[1]
    assert body == "web IN CNAME edge.woodytoys.lab.\nother IN A 192.0.2.2\n"


def test_removed_owner_line_hands_its_owner_to_the_blank_owner_line_after_it():
    text = zone("""\
        www IN A 192.0.2.1
        mail IN A 192.0.2.25
        www IN A 192.0.2.3
            IN TXT "www"
        """)
    result = edit(text, {"name": "www", "type": "A", "value": "192.0.2.1"})
    body = result["content"].split("ns IN A 192.0.2.53\n", 1)[1]
    # The second www A goes (the RRset is now just 192.0.2.1); its TXT must stay www's, not mail's.
    assert body == 'www IN A 192.0.2.1\nmail IN A 192.0.2.25\nwww    IN TXT "www"\n'


def test_a_does_not_replace_a_cname():
    """An A record where a CNAME stands is added; named-checkzone then refuses the candidate."""
    result = edit(REAL, {"name": "cdn", "type": "A", "value": "192.0.2.99"})
    assert "cdn             IN      CNAME   static.woodytoys.lab." in result["content"]
    assert result["content"].endswith("cdn.woodytoys.lab.\tIN\tA\t192.0.2.99\n")


# --- RRsets and TTLs -----------------------------------------------------------------------------

def test_round_robin_keeps_matching_lines_and_inserts_after_the_rrset():
    text = zone("www IN A 192.0.2.1\nmail IN A 192.0.2.25\n")
    result = edit(text, {"name": "www", "type": "A", "value": "192.0.2.1"},
                  {"name": "www", "type": "A", "value": "192.0.2.2"})
    assert "www IN A 192.0.2.1\nwww\tIN\tA\t192.0.2.2\nmail IN A 192.0.2.25\n" in result["content"]
    again = edit(result["content"], {"name": "www", "type": "A", "value": "192.0.2.2"},
                 {"name": "www", "type": "A", "value": "192.0.2.1"})
    assert again["changed"] is False


def test_missing_ttl_keeps_the_existing_one_and_a_given_ttl_is_written():
    text = zone("www 600 IN A 192.0.2.1\nftp IN A 192.0.2.2\n")
    assert edit(text, {"name": "www", "type": "A", "value": "192.0.2.1"})["changed"] is False
    assert edit(text, {"name": "www", "type": "A", "value": "192.0.2.1", "ttl": 600})["changed"] is False
    result = edit(text, {"name": "www", "type": "A", "value": "192.0.2.1", "ttl": 300},
                  {"name": "ftp", "type": "A", "value": "192.0.2.2", "ttl": 60})
    assert "www 300 IN A 192.0.2.1\nftp 60 IN A 192.0.2.2\n" in result["content"]


def test_ttl_with_units_compares_in_seconds():
    text = zone("www 1h IN A 192.0.2.1\n")
    assert edit(text, {"name": "www", "type": "A", "value": "192.0.2.1", "ttl": 3600})["changed"] is False


def test_aaaa_compares_addresses_not_spellings():
    text = zone("www IN AAAA 2001:0db8:0:0::0001\n")
    assert edit(text, {"name": "www", "type": "AAAA", "value": "2001:db8::1"})["changed"] is False


# --- appending -----------------------------------------------------------------------------------

def test_absent_record_is_appended_and_everything_else_kept():
    result = edit(SMALL, {"name": "cdn", "type": "CNAME", "value": "edge.small.lab."}, origin="small.lab")
    assert changes(SMALL, result["content"]) == [
        ("replace", ["@\tIN\tSOA\tns1.small.lab. hostmaster.small.lab. 2024031502 3600 900 604800 300\n"],
         ["@\tIN\tSOA\tns1.small.lab. hostmaster.small.lab. 2025061000 3600 900 604800 300\n"]),
        ("insert", [], ["cdn\tIN\tCNAME\tedge.small.lab.\n"]),
    ]


def test_appended_after_another_origin_is_written_absolute():
    result = edit(REAL, {"name": "img", "type": "A", "value": "192.0.2.7", "ttl": 120})
    assert result["content"].endswith(
        "back            IN      A       192.0.2.111\nimg.woodytoys.lab.\t120\tIN\tA\t192.0.2.7\n")


def test_file_without_final_newline_gets_one_before_the_new_line():
    text = zone("www IN A 192.0.2.1")
    result = edit(text, {"name": "img", "type": "A", "value": "192.0.2.7"})
    assert result["content"].endswith("www IN A 192.0.2.1\nimg\tIN\tA\t192.0.2.7\n")


def test_crlf_line_ends_are_kept():
    text = zone("www IN A 192.0.2.1\n").replace("\n", "\r\n")
    result = edit(text, {"name": "www", "type": "A", "value": "192.0.2.2"},
                  {"name": "img", "type": "A", "value": "192.0.2.7"})
    assert result["content"] == text.replace("192.0.2.1", "192.0.2.2").replace("2024031502", "2025061000") \
        + "img\tIN\tA\t192.0.2.7\r\n"


# --- reading the file the way named does ---------------------------------------------------------

def test_semicolons_and_parentheses_inside_quotes_are_text():
    text = zone('txt IN TXT "a;(b" ; real comment\nwww IN A 192.0.2.1\n')
    tokens, depth = zr.tokenize('txt IN TXT "a;(b" ; c (', 0)
    assert [t.text for t in tokens] == ["txt", "IN", "TXT", "a;(b"] and depth == 0
    result = edit(text, {"name": "www", "type": "A", "value": "192.0.2.2"})
    assert 'txt IN TXT "a;(b" ; real comment\nwww IN A 192.0.2.2\n' in result["content"]


def test_records_inside_parentheses_are_not_owners():
    entries = zr.parse_zone(REAL, "woodytoys.lab.").entries
    owners = {(e.owner, e.rtype) for e in entries}
    assert ("mail._domainkey.woodytoys.lab.", "TXT") in owners
    assert ("woodytoys.lab.", "MX") in owners and ("woodytoys.lab.", "TXT") in owners
    assert ("www.woodytoys.lab.", "AAAA") in owners and ("www2.woodytoys.lab.", "A") in owners
    assert ("front.shop.woodytoys.lab.", "A") in owners
    assert not any(owner.startswith(('"', "3600")) for owner, _ in owners)


def test_zone_without_soa_is_refused():
    with pytest.raises(zr.ZoneError, match="no SOA"):
        edit("www IN A 192.0.2.1\n", CDN)


def test_unbalanced_parentheses_are_refused():
    with pytest.raises(zr.ZoneError, match="unbalanced"):
        edit(zone('txt IN TXT ( "a"\n'), CDN)


# --- refusing bad input --------------------------------------------------------------------------

@pytest.mark.parametrize(("records", "words"), [
    ([], "records is empty"),
    ([{"name": "cdn", "type": "CNAME", "value": "edge woodytoys.lab."}], "not a DNS name"),
    ([{"name": "my cdn", "type": "A", "value": "192.0.2.1"}], "not a DNS name"),
    ([{"name": "cdn", "type": "MX", "value": "10 mail"}], "not one of"),
    ([{"name": "cdn.example.com.", "type": "A", "value": "192.0.2.1"}], "outside the zone"),
    ([{"name": "woodytoys.lab.x.", "type": "A", "value": "192.0.2.1"}], "outside the zone"),
    ([{"name": "@", "type": "CNAME", "value": "edge.example.net."}], "apex"),
    ([{"name": "woodytoys.lab.", "type": "CNAME", "value": "edge.example.net."}], "apex"),
    ([{"name": "img", "type": "A", "value": "192.0.2.300"}], "not an IPv4 address"),
    ([{"name": "img", "type": "A", "value": "192.0.2.01"}], "not an IPv4 address"),
    ([{"name": "img", "type": "AAAA", "value": "192.0.2.1"}], "not an IPv6 address"),
    ([{"name": "img", "type": "AAAA", "value": "1::2::3"}], "not an IPv6 address"),
    ([{"name": "img", "type": "A", "value": "192.0.2.1", "ttl": -5}], "ttl"),
    ([{"name": "img", "type": "A", "value": "192.0.2.1", "ttl": 2**31}], "ttl"),
    ([{"name": "img", "type": "A", "value": "192.0.2.1", "ttl": "1h"}], "ttl"),
    ([{"name": "img", "type": "A", "value": "192.0.2.1", "ttl": 300.0}], "ttl"),
    ([{"name": "img", "type": "A", "value": "192.0.2.1", "ttl": True}], "ttl"),
    ([{"name": "a" * 64, "type": "A", "value": "192.0.2.1"}], "not a DNS name"),
    ([{"name": "img.", "type": "A", "value": "192.0.2.1"}], "outside the zone"),
    ([{"name": "img", "type": "A"}], "lacks value"),
    ([CDN, {"name": "cdn", "type": "CNAME", "value": "other."}], "CNAME targets"),
    ([CDN, {"name": "cdn", "type": "A", "value": "192.0.2.1"}], "stands alone"),
    ([{"name": "img", "type": "A", "value": "192.0.2.1"}] * 2, "twice"),
    ([{"name": "w", "type": "A", "value": "192.0.2.1", "ttl": 60},
      {"name": "w", "type": "A", "value": "192.0.2.2", "ttl": 90}],
     "one ttl"),
])
def test_bad_records_are_refused(records, words):
    with pytest.raises(zr.ZoneError, match=words):
        edit(REAL, *records)


@pytest.mark.parametrize(("records", "message"), [
    ([CDN, {"name": "x", "type": "A", "value": "x"}], "records[1] (x A x): value 'x' is not an IPv4 address"),
    ([{"name": "my cdn", "type": "CNAME", "value": "edge."}],
     "records[0] (my cdn CNAME edge.): name 'my cdn' is not a DNS name (@, a name relative to the zone, "
     "or an absolute name ending with a dot; no spaces)"),
    ([{"name": "cdn", "type": "CNAME", "value": "edge woodytoys.lab."}],
     "records[0] (cdn CNAME edge woodytoys.lab.): CNAME target 'edge woodytoys.lab.' is not a DNS name"),
    ([{"name": "@", "type": "CNAME", "value": "edge.example.net."}],
     "records[0] (@ CNAME edge.example.net.): a CNAME cannot sit at the zone apex woodytoys.lab."),
    ([{"name": "img", "type": "A", "value": "192.0.2.1", "ttl": "1h"}],
     "records[0] (img A 192.0.2.1): ttl must be a number of seconds from 0 to 2147483647 (got '1h')"),
    ([{"name": "cdn", "type": "A"}], "records[0] (cdn A ?) lacks value"),
])
def test_a_refused_record_is_named_with_what_is_wrong(records, message):
    with pytest.raises(zr.ZoneError) as refused:
        zr.wanted_records(records, "woodytoys.lab.")
    assert str(refused.value) == message


def test_normalised_rrsets_and_expected_answers():
    rrsets = zr.wanted_records([CDN, {"name": "WWW", "type": "a", "value": "192.0.2.1"},
                                {"name": "www", "type": "A", "value": "192.0.2.2", "ttl": "60"}], "woodytoys.lab.")
    assert zr.rrsets_result(rrsets) == [
        {"fqdn": "cdn.woodytoys.lab.", "type": "CNAME", "values": ["edge.woodytoys.lab."], "ttl": None},
        {"fqdn": "www.woodytoys.lab.", "type": "A", "values": ["192.0.2.1", "192.0.2.2"], "ttl": 60},
    ]
    assert zr.expected_answers(rrsets) == ["cdn.woodytoys.lab. cname edge.woodytoys.lab.",
                                           "www.woodytoys.lab. a 192.0.2.1", "www.woodytoys.lab. a 192.0.2.2"]


# --- the candidate is a zone named accepts, and the module never writes --------------------------

@pytest.mark.skipif(not shutil.which("named-checkzone"), reason="needs named-checkzone")
def test_candidate_passes_named_checkzone(tmp_path):
    result = edit(REAL, CDN, {"name": "img", "type": "A", "value": "192.0.2.7"},
                  {"name": "mail._domainkey", "type": "CNAME", "value": "dkim.example.net."})
    candidate = tmp_path / "db"
    candidate.write_text(result["content"])
    done = subprocess.run(["named-checkzone", "woodytoys.lab", str(candidate)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout
    assert "loaded serial 2025061000" in done.stdout


def test_module_returns_the_candidate_and_does_not_write(tmp_path):
    path = tmp_path / "db.woodytoys.lab"
    path.write_text(REAL)
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {
        "path": str(path), "origin": "woodytoys.lab.", "records": [CDN], "serial_date": DATE}}))
    done = subprocess.run([sys.executable, str(ROOT / "plugins/modules/zone_records.py"), str(args)],
                          capture_output=True, text=True, check=False)
    result = json.loads(done.stdout)
    assert result["changed"] is True, result
    assert result["old_serial"] == 2024031502 and result["new_serial"] == 2025061000
    assert "+cdn             IN      CNAME   edge.woodytoys.lab." in result["unified_diff"]
    assert result["diff"]["before"] == REAL and result["diff"]["after"] == result["content"]
    assert path.read_text() == REAL


def test_module_fails_on_bad_input_with_the_reason(tmp_path):
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {
        "origin": "woodytoys.lab", "records": [{"name": "cdn", "type": "CNAME", "value": "a b."}]}}))
    done = subprocess.run([sys.executable, str(ROOT / "plugins/modules/zone_records.py"), str(args)],
                          capture_output=True, text=True, check=False)
    result = json.loads(done.stdout)
    assert result["failed"] is True and "not a DNS name" in result["msg"]


# --- delegations: named never serves data at or below a zone cut ---------------------------------

DELEGATED = (f"$TTL 3600\n{SOA_LINE.format(2024031502)}".replace("woodytoys.lab.", "example.org.")
             + "@ IN NS ns\nns IN A 192.0.2.53\n"
             "woodytoys IN NS ns.woodytoys\nns.woodytoys IN A 192.0.2.1\nwww IN A 192.0.2.80\n")


@pytest.mark.parametrize("record", [
    {"name": "cdn.woodytoys", "type": "CNAME", "value": "edge.example.org."},
    {"name": "woodytoys", "type": "A", "value": "192.0.2.9"},  # at the cut itself, and not glue
    {"name": "ns.woodytoys", "type": "CNAME", "value": "edge.example.org."},  # glue is an address
])
def test_record_at_or_below_a_delegation_is_refused(record):
    cut = r"at or below the delegation woodytoys\.example\.org\. \(NS ns\.woodytoys\.example\.org\.\)"
    with pytest.raises(zr.ZoneError, match=cut):
        edit(DELEGATED, record, origin="example.org")


@pytest.mark.parametrize("record", [
    {"name": "cdn", "type": "CNAME", "value": "edge.example.org."},  # beside the delegation
    {"name": "www", "type": "A", "value": "192.0.2.81"},
    {"name": "ns.woodytoys", "type": "A", "value": "192.0.2.2"},  # glue below the cut
    {"name": "ns.woodytoys", "type": "AAAA", "value": "2001:db8::53"},
    {"name": "ns", "type": "A", "value": "192.0.2.54"},  # the apex NS is not a cut
])
def test_records_beside_a_delegation_and_glue_are_edited(record):
    result = edit(DELEGATED, record, origin="example.org")
    assert result["changed"] is True and result["new_serial"] == 2025061000


def test_module_refuses_a_record_below_a_delegation_and_leaves_the_file(tmp_path):
    path = tmp_path / "db.example.org"
    path.write_bytes(DELEGATED.encode())
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {
        "path": str(path), "origin": "example.org", "serial_date": DATE,
        "records": [{"name": "cdn.woodytoys", "type": "CNAME", "value": "edge.example.org."}]}}))
    done = subprocess.run([sys.executable, str(ROOT / "plugins/modules/zone_records.py"), str(args)],
                          capture_output=True, text=True, check=False)
    result = json.loads(done.stdout)
    assert result["failed"] is True and "content" not in result, result
    assert ("cdn.woodytoys.example.org. lies at or below the delegation woodytoys.example.org. "
            "(NS ns.woodytoys.example.org.): named would not serve it") in result["msg"]
    assert path.read_bytes() == DELEGATED.encode()
    assert "2024031502" in path.read_text()
