"""The bind_zone role against a real named on 127.0.0.1 (no mocks).

Each test starts its own named (own named.conf, zone files and pidfile in a tmp dir, a free high
port for DNS and another for the rndc control channel with a generated key), runs the role
through ansible-playbook against localhost, and looks at the file byte for byte and at what named
serves with dig.
"""
from __future__ import annotations

import base64
import difflib
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ansible_run import PlayRun, run_playbook  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "zones"
SMALL = (FIXTURES / "db.small.lab").read_text()
REAL = (FIXTURES / "db.woodytoys.lab").read_text()
FIXTURE_SERIAL = "2024031502"
DATE = "20250610"
DYNAMIC_ZONE = textwrap.dedent("""\
    $TTL 300
    @       IN SOA ns1.dyn.lab. hostmaster.dyn.lab. 2025010100 3600 900 604800 300
    @       IN NS  ns1.dyn.lab.
    ns1     IN A   127.0.0.1
    """)

pytestmark = pytest.mark.skipif(not shutil.which("named") and not Path("/usr/sbin/named").exists(),
                                reason="needs BIND's named")


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            if port > 1024:
                return port
    raise RuntimeError("no free port")


def dig(port: int, name: str, rtype: str) -> list[str]:
    done = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+short", "+norecurse", "+time=1", "+tries=1",
                           name, rtype], capture_output=True, text=True, timeout=10, check=False)
    return [line for line in done.stdout.splitlines() if line and not line.startswith(";")]


@dataclass
class Named:
    directory: Path
    port: int
    rndc_port: int
    rndc_key_file: Path
    ddns_secret: str
    process: subprocess.Popen[bytes]
    zone_files: dict[str, Path] = field(default_factory=dict)

    def serial(self, zone: str) -> int | None:
        answer = dig(self.port, zone, "SOA")
        return int(answer[0].split()[2]) if answer else None

    def log(self) -> str:
        return (self.directory / "named.log").read_text(errors="replace")[-3000:]


class NamedPool:
    """Starts named servers in a directory and stops them all at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[Named] = []

    def start(self, zones: dict[str, str], dynamic: frozenset[str] = frozenset()) -> Named:
        """A running named serving zones ({origin: zone text}); the dynamic ones accept TSIG updates."""
        directory = self.root / f"named{len(self.started)}"
        directory.mkdir()
        port, rndc_port = free_port(), free_port()
        rndc_secret = base64.b64encode(os.urandom(32)).decode()
        ddns_secret = base64.b64encode(os.urandom(32)).decode()
        key_file = directory / "rndc.key"
        key_file.write_text(f'key "rndc-test" {{ algorithm hmac-sha256; secret "{rndc_secret}"; }};\n')
        zone_files: dict[str, Path] = {}
        zone_blocks = []
        for origin, text in zones.items():
            path = directory / f"db.{origin}"
            path.write_text(text)
            zone_files[origin] = path
            update = ' allow-update { key "ddns-test"; };' if origin in dynamic else ""
            zone_blocks.append(f'zone "{origin}" {{ type primary; file "{path}";{update} }};')
        conf = directory / "named.conf"
        conf.write_text(textwrap.dedent(f"""\
            options {{
                directory "{directory}";
                pid-file "{directory}/named.pid";
                session-keyfile "{directory}/session.key";
                managed-keys-directory "{directory}";
                listen-on port {port} {{ 127.0.0.1; }};
                listen-on-v6 {{ none; }};
                recursion no;
                notify no;
                dnssec-validation no;
            }};
            key "rndc-test" {{ algorithm hmac-sha256; secret "{rndc_secret}"; }};
            controls {{ inet 127.0.0.1 port {rndc_port} allow {{ 127.0.0.1; }} keys {{ "rndc-test"; }}; }};
            key "ddns-test" {{ algorithm hmac-sha256; secret "{ddns_secret}"; }};
            """) + "\n".join(zone_blocks) + "\n")
        with (directory / "named.log").open("wb") as log:
            process = subprocess.Popen(["named", "-g", "-n", "1", "-c", str(conf)],
                                       stdout=log, stderr=subprocess.STDOUT)
        server = Named(directory, port, rndc_port, key_file, ddns_secret, process, zone_files)
        self.started.append(server)
        deadline = time.monotonic() + 20
        while any(server.serial(origin) is None for origin in zones):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"named did not answer on 127.0.0.1:{port}:\n{server.log()}")
            time.sleep(0.1)
        return server

    def stop_all(self) -> None:
        for server in self.started:
            server.process.terminate()
            try:
                server.process.wait(10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait(10)


@pytest.fixture()
def start_named(tmp_path: Path) -> Iterator[Callable[..., Named]]:
    """start_named({origin: zone text}, dynamic={origin, ...}) -> a running named serving them."""
    pool = NamedPool(tmp_path)
    yield pool.start
    pool.stop_all()


PER_HOST = ("bind_zone_file", "bind_zone_port", "bind_zone_rndc_port", "bind_zone_rndc_key_file", "bind_zone_records")


def role_vars(server: Named, origin: str, records: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "bind_zone_origin": origin,
        "bind_zone_file": str(server.zone_files.get(origin, "")),
        "bind_zone_records": records,
        "bind_zone_server": "127.0.0.1",
        "bind_zone_port": server.port,
        "bind_zone_reload_method": "rndc",
        "bind_zone_rndc_server": "127.0.0.1",
        "bind_zone_rndc_port": server.rndc_port,
        "bind_zone_rndc_key_file": str(server.rndc_key_file),
        "bind_zone_serial_date": DATE,
        "bind_zone_verify_timeout": 10,
    }
    variables.update(extra)
    # None leaves the role's default in place.
    return {key: value for key, value in variables.items() if value is not None}


def run_role(tmp_path: Path, server: Named, origin: str, records: list[dict[str, Any]], **extra: Any) -> PlayRun:
    """Apply the role once to localhost (connection local)."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(textwrap.dedent("""\
        - name: Edit a zone with bind_zone
          hosts: localhost
          gather_facts: false
          vars:
            ansible_connection: local
            ansible_python_interpreter: "{{ ansible_playbook_python }}"
          roles:
            - role: bind_zone
        """))
    return run_playbook(playbook, role_vars(server, origin, records, **extra), timeout=300)


def run_role_on_hosts(directory: Path, hosts: dict[str, tuple[Named, list[dict[str, Any]]]], origin: str) -> PlayRun:
    """Apply the role in parallel to one local host per (named, records)."""
    playbook = directory / "play-many.yml"
    playbook.write_text(textwrap.dedent("""\
        - name: Declare one local host per case
          hosts: localhost
          gather_facts: false
          tasks:
            - name: Add the hosts
              ansible.builtin.add_host:
                name: "{{ item.key }}"
                groups: bind_zone_test
                ansible_connection: local
                ansible_python_interpreter: "{{ ansible_playbook_python }}"
                bind_zone_file: "{{ item.value.bind_zone_file }}"
                bind_zone_port: "{{ item.value.bind_zone_port }}"
                bind_zone_rndc_port: "{{ item.value.bind_zone_rndc_port }}"
                bind_zone_rndc_key_file: "{{ item.value.bind_zone_rndc_key_file }}"
                bind_zone_records: "{{ item.value.bind_zone_records }}"
              loop: "{{ bind_zone_test_hosts | dict2items }}"

        - name: Edit each zone with bind_zone
          hosts: bind_zone_test
          gather_facts: false
          roles:
            - role: bind_zone
        """))
    every = {name: role_vars(server, origin, records) for name, (server, records) in hosts.items()}
    common = {key: value for key, value in next(iter(every.values())).items() if key not in PER_HOST}
    per_host = {name: {key: variables[key] for key in PER_HOST} for name, variables in every.items()}
    return run_playbook(playbook, {**common, "bind_zone_test_hosts": per_host}, timeout=300)


def changed(run: PlayRun, host: str = "localhost") -> int:
    return run.report["stats"][host]["changed"]


def differing_lines(before: str, after: str) -> list[tuple[str, list[str], list[str]]]:
    """(opcode, old lines, new lines) of every difference between the two texts."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    return [(tag, old[i1:i2], new[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.*~"))


def checkzone(origin: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["named-checkzone", origin, str(path)], capture_output=True, text=True, check=False)


# --- file method: the intended lines change, nothing else -----------------------------------------

def test_small_zone_gains_the_record_at_the_end(tmp_path, start_named):
    named = start_named({"small.lab": SMALL})
    path = named.zone_files["small.lab"]
    path.chmod(0o640)
    records = [{"name": "cdn", "type": "CNAME", "value": "edge.small.lab."}]

    first = run_role(tmp_path, named, "small.lab", records)

    assert first.returncode == 0, first.output[-3000:]
    after = path.read_text()
    assert differing_lines(SMALL, after) == [
        ("replace", ["@\tIN\tSOA\tns1.small.lab. hostmaster.small.lab. 2024031502 3600 900 604800 300\n"],
                    ["@\tIN\tSOA\tns1.small.lab. hostmaster.small.lab. 2025061000 3600 900 604800 300\n"]),
        ("insert", [], ["cdn\tIN\tCNAME\tedge.small.lab.\n"]),
    ]
    assert checkzone("small.lab", path).returncode == 0
    assert path.stat().st_mode & 0o7777 == 0o640
    assert dig(named.port, "cdn.small.lab", "CNAME") == ["edge.small.lab."]
    assert named.serial("small.lab") == 2025061000
    assert [b.read_text() for b in backups(path)] == [SMALL]

    second = run_role(tmp_path, named, "small.lab", records)

    assert second.returncode == 0, second.output[-3000:]
    assert changed(second) == 0, second.output[-3000:]
    assert path.read_text() == after
    assert named.serial("small.lab") == 2025061000
    assert len(backups(path)) == 1


SERIAL_CASES = {
    "past-day": ("2024031502", "2025061000"),  # an earlier day: today's first serial
    "today": ("2025061003", "2025061004"),  # today already: next number
    "today-99": ("2025061099", "2025061100"),  # today's 99th change: still increases
    "unix-time": ("2200000000", "2200000001"),  # a Unix time above today's form (year 2039): incremented
    "future-date": ("2030010105", "2030010106"),  # a future date: incremented
}
CDN = [{"name": "cdn", "type": "CNAME", "value": "edge.woodytoys.lab."}]


@dataclass
class SerialCase:
    named: Named
    original: str
    first: PlayRun
    after_first: str
    served_serial: int | None
    served_cdn: list[str]
    second: PlayRun
    after_second: str
    served_serial_second: int | None


@pytest.fixture(scope="module")
def serial_cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SerialCase]]:
    """The real zone with each serial form, one named each, edited by the role twice (in parallel)."""
    root = tmp_path_factory.mktemp("serials")
    pool = NamedPool(root)
    try:
        originals = {case: REAL.replace(FIXTURE_SERIAL, serial) for case, (serial, _) in SERIAL_CASES.items()}
        servers = {case: pool.start({"woodytoys.lab": text}) for case, text in originals.items()}
        hosts = {case: (server, CDN) for case, server in servers.items()}
        first = run_role_on_hosts(root, hosts, "woodytoys.lab")
        after_first = {case: s.zone_files["woodytoys.lab"].read_text() for case, s in servers.items()}
        served = {case: (s.serial("woodytoys.lab"), dig(s.port, "cdn.woodytoys.lab", "CNAME"))
                  for case, s in servers.items()}
        second = run_role_on_hosts(root, hosts, "woodytoys.lab")
        yield {case: SerialCase(server, originals[case], first, after_first[case], *served[case], second,
                                server.zone_files["woodytoys.lab"].read_text(), server.serial("woodytoys.lab"))
               for case, server in servers.items()}
    finally:
        pool.stop_all()


@pytest.mark.parametrize("case", list(SERIAL_CASES))
def test_real_zone_cdn_replaced_in_place(serial_cases, case):
    serial, expected = SERIAL_CASES[case]
    result = serial_cases[case]
    path = result.named.zone_files["woodytoys.lab"]

    assert result.first.returncode == 0, result.first.output[-3000:]
    assert differing_lines(result.original, result.after_first) == [
        ("replace", [f"                        {serial}      ; serial (YYYYMMDDNN)\n"],
                    [f"                        {expected}      ; serial (YYYYMMDDNN)\n"]),
        ("replace", ["cdn             IN      CNAME   static.woodytoys.lab.   ; TP9: the CDN\n"],
                    ["cdn             IN      CNAME   edge.woodytoys.lab.   ; TP9: the CDN\n"]),
    ]
    assert ";cdn            IN      CNAME   old.woodytoys.lab.\n" in result.after_first
    assert checkzone("woodytoys.lab", path).returncode == 0
    assert result.served_cdn == ["edge.woodytoys.lab."]
    assert result.served_serial == int(expected)
    assert [b.read_text() for b in backups(path)] == [result.original]
    assert changed(result.first, case) > 0

    assert result.second.returncode == 0, result.second.output[-3000:]
    assert changed(result.second, case) == 0, result.second.output[-3000:]
    assert result.after_second == result.after_first
    assert result.served_serial_second == int(expected)


def test_real_zone_several_records_and_origins(tmp_path, start_named):
    """An upper-case owner, a blank-owner line, an absolute owner, a name after $ORIGIN, a new name."""
    named = start_named({"woodytoys.lab": REAL})
    path = named.zone_files["woodytoys.lab"]
    records = [
        {"name": "www2", "type": "A", "value": "192.0.2.82"},
        {"name": "www", "type": "AAAA", "value": "2001:db8::81", "ttl": 600},
        {"name": "api.woodytoys.lab.", "type": "A", "value": "192.0.2.101"},
        {"name": "front.shop", "type": "CNAME", "value": "edge"},
        {"name": "img", "type": "A", "value": "192.0.2.120"},
    ]

    run = run_role(tmp_path, named, "woodytoys.lab", records)

    assert run.returncode == 0, run.output[-3000:]
    assert [(tag, [line.strip() for line in new]) for tag, _, new in differing_lines(REAL, path.read_text())] == [
        ("replace", ["2025061000      ; serial (YYYYMMDDNN)"]),
        ("replace", ["600 IN      AAAA    2001:db8::81",
                     "WWW2            300 IN  A       192.0.2.82      ; upper-case owner, own TTL"]),
        ("replace", ["api.woodytoys.lab.      IN      A       192.0.2.101"]),
        ("replace", ["front           IN      CNAME   edge.woodytoys.lab."]),
        ("insert", ["img.woodytoys.lab.\tIN\tA\t192.0.2.120"]),
    ]
    assert dig(named.port, "www2.woodytoys.lab", "A") == ["192.0.2.82"]
    assert dig(named.port, "www.woodytoys.lab", "AAAA") == ["2001:db8::81"]
    assert dig(named.port, "www.woodytoys.lab", "A") == ["192.0.2.80"]
    assert dig(named.port, "front.shop.woodytoys.lab", "CNAME") == ["edge.woodytoys.lab."]
    assert dig(named.port, "img.woodytoys.lab", "A") == ["192.0.2.120"]


# --- bad input and rejected candidates leave the file and the server alone ------------------------

# The records' messages come from the zone_records module, which names a record records[<index>]
# (<name> <type> <value>); the type's choices from the argument spec; the empty list from the preflight.
BAD_INPUT = {
    "target-with-space": ([{"name": "cdn", "type": "CNAME", "value": "edge woodytoys.lab."}],
                          ["records[0] (cdn CNAME edge woodytoys.lab.)", "CNAME target", "is not a DNS name"]),
    "name-with-space": ([{"name": "my cdn", "type": "CNAME", "value": "edge.woodytoys.lab."}],
                        ["records[0] (my cdn CNAME edge.woodytoys.lab.)", "name 'my cdn' is not a DNS name"]),
    "unknown-type": ([{"name": "cdn", "type": "MX", "value": "10 mail"}], ["bind_zone_records", "type", "MX"]),
    "owner-outside-zone": ([{"name": "cdn.example.com.", "type": "CNAME", "value": "edge.woodytoys.lab."}],
                           ["records[0] (cdn.example.com.", "outside the zone"]),
    "bad-address": ([{"name": "img", "type": "A", "value": "192.0.2.300"}], ["records[0] (img A", "IPv4 address"]),
    "second-record-bad": ([{"name": "img", "type": "A", "value": "192.0.2.30"},
                           {"name": "x", "type": "A", "value": "x"}],
                          ["records[1] (x A x)", "IPv4 address"]),
    "cname-at-apex": ([{"name": "woodytoys.lab.", "type": "CNAME", "value": "edge.example.net."}],
                      ["records[0] (woodytoys.lab. CNAME", "zone apex"]),
    "aaaa-not-ipv6": ([{"name": "img", "type": "AAAA", "value": "2001:db8::1::2"}], ["records[0] (img AAAA", "IPv6 address"]),
    "ttl-too-large": ([{"name": "img", "type": "A", "value": "192.0.2.30", "ttl": 2**31}], ["records[0] (img A", "ttl"]),
    "empty-list": ([], ["bind_zone_records is empty"]),
}


@dataclass
class BadRun:
    named: Named
    before: bytes
    mtime: int
    run: PlayRun


@pytest.fixture(scope="module")
def bad_input_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BadRun]:
    """One named serving the real zone; every bad input applied to it in parallel, one host each."""
    root = tmp_path_factory.mktemp("bad")
    pool = NamedPool(root)
    try:
        named = pool.start({"woodytoys.lab": REAL})
        path = named.zone_files["woodytoys.lab"]
        before, mtime = path.read_bytes(), path.stat().st_mtime_ns
        hosts = {case: (named, records) for case, (records, _) in BAD_INPUT.items()}
        run = run_role_on_hosts(root, hosts, "woodytoys.lab")
        yield BadRun(named, before, mtime, run)
    finally:
        pool.stop_all()


def host_failures(run: PlayRun, host: str) -> list[tuple[str, list[str]]]:
    """(task name, messages) of the tasks that failed on one host."""
    found = []
    for play in run.report.get("plays", []):
        for task in play["tasks"]:
            outcome = task["hosts"].get(host, {})
            if outcome.get("failed"):
                items = [i for i in outcome.get("results", []) if i.get("failed")] or [outcome]
                found.append((task["task"]["name"].split(" : ", 1)[-1], [str(i.get("msg", "")) for i in items]))
    return found


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_fails_before_the_file_is_touched(bad_input_run, case):
    run, named = bad_input_run.run, bad_input_run.named
    path = named.zone_files["woodytoys.lab"]
    assert run.returncode != 0, run.output[-3000:]
    assert changed(run, case) == 0
    assert run.report["stats"][case]["failures"] == 1, run.output[-3000:]
    name, messages = host_failures(run, case)[0]
    assert name.startswith(("Validating arguments", "Validate")), name
    assert all(word in " ".join(messages) for word in BAD_INPUT[case][1]), messages
    # Nothing touched, whatever the case: bytes, mtime, no backup, the old zone still served.
    assert path.read_bytes() == bad_input_run.before and path.stat().st_mtime_ns == bad_input_run.mtime
    assert backups(path) == []
    assert named.serial("woodytoys.lab") == int(FIXTURE_SERIAL)
    assert dig(named.port, "cdn.woodytoys.lab", "CNAME") == ["static.woodytoys.lab."]


def test_candidate_refused_by_named_checkzone_changes_nothing(tmp_path, start_named):
    """An A record for cdn, which holds a CNAME: the candidate has CNAME and other data."""
    named = start_named({"woodytoys.lab": REAL})
    path = named.zone_files["woodytoys.lab"]
    before = path.read_bytes()

    run = run_role(tmp_path, named, "woodytoys.lab", [{"name": "cdn", "type": "A", "value": "192.0.2.99"}])

    assert run.returncode != 0, run.output[-3000:]
    assert changed(run) == 0
    messages = " ".join(run.failure_messages())
    assert "refused the edited" in messages and "CNAME and other data" in messages, messages
    assert path.read_bytes() == before
    assert backups(path) == []
    assert named.serial("woodytoys.lab") == int(FIXTURE_SERIAL)
    assert dig(named.port, "cdn.woodytoys.lab", "A") == ["static.woodytoys.lab.", "192.0.2.90"]
    assert not run.changed_items("Reload the zone with rndc")


def test_a_run_that_did_not_reload_fails_verification_and_heals_on_the_next_run(tmp_path, start_named):
    """named is not reloaded (method none): the check says what it expected and what it saw; the
    next run (rndc) sees the served serial differ from the file's and reloads, without rewriting.
    Also: without bind_zone_serial_date, the serial takes today's date."""
    named = start_named({"small.lab": SMALL})
    path = named.zone_files["small.lab"]
    records = [{"name": "www", "type": "A", "value": "192.0.2.11"}]
    today = {int(time.strftime("%Y%m%d")) * 100}

    unreloaded = run_role(tmp_path, named, "small.lab", records, bind_zone_reload_method="none",
                          bind_zone_verify_timeout=2, bind_zone_serial_date=None)

    today.add(int(time.strftime("%Y%m%d")) * 100)
    assert unreloaded.returncode != 0, unreloaded.output[-3000:]
    written = path.read_text()
    assert "www\tIN\tA\t192.0.2.11\n" in written
    assert named.serial("small.lab") == int(FIXTURE_SERIAL)
    message = " ".join(unreloaded.failure_messages())
    serial = int(re.search(r"small\.lab\. soa (\d+)\. Seen", message).group(1)) if "Seen" in message else None
    assert serial in today, message
    assert "still does not serve www.small.lab. a 192.0.2.11, small.lab. soa" in message, message
    assert "Seen: small.lab. soa 2024031502, www.small.lab. a 192.0.2.10" in message, message

    healed = run_role(tmp_path, named, "small.lab", records, bind_zone_serial_date=None)

    assert healed.returncode == 0, healed.output[-3000:]
    assert healed.changed_items("Reload the zone with rndc") == ["localhost"]
    assert path.read_text() == written
    assert named.serial("small.lab") == serial
    assert dig(named.port, "www.small.lab", "A") == ["192.0.2.11"]


# --- nsupdate method ----------------------------------------------------------------------------

def test_nsupdate_adds_records_idempotently(tmp_path, start_named):
    named = start_named({"dyn.lab": DYNAMIC_ZONE}, dynamic=frozenset({"dyn.lab"}))
    records = [{"name": "cdn", "type": "CNAME", "value": "edge.dyn.lab."},
               {"name": "edge", "type": "A", "value": "192.0.2.91", "ttl": 120}]
    extra = {"bind_zone_method": "nsupdate", "bind_zone_tsig_key_name": "ddns-test",
             "bind_zone_tsig_key_algorithm": "hmac-sha256", "bind_zone_tsig_key_secret": named.ddns_secret,
             "bind_zone_file": ""}

    first = run_role(tmp_path, named, "dyn.lab", records, **extra)

    assert first.returncode == 0, first.output[-3000:]
    assert named.ddns_secret not in first.output
    assert dig(named.port, "cdn.dyn.lab", "CNAME") == ["edge.dyn.lab."]
    assert dig(named.port, "edge.dyn.lab", "A") == ["192.0.2.91"]
    assert len(first.changed_items("Add or replace the records with TSIG-signed updates")) == 2

    second = run_role(tmp_path, named, "dyn.lab", records, **extra)

    assert second.returncode == 0, second.output[-3000:]
    assert changed(second) == 0, second.output[-3000:]
