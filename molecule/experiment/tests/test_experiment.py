"""The experiment's table shows what each stage is for (issue 7's bars), and the CDN stage works
through the lab DNS and the self-hosted edge (issue 6's lab checks)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "collections"))
from ansible_collections.woodyswarm.shop.plugins.module_utils.stages import STAGES  # noqa: E402

testinfra_hosts = ["localhost"]
RESULTS = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "results"
DNS = "10.213.0.11"
ZONE = "woodytoys.lab"
CDN = f"cdn.{ZONE}"


def newest() -> dict[str, dict]:
    records = {}
    for stage in STAGES:
        runs = json.loads((RESULTS / f"{stage}.json").read_text())
        records[stage] = max(runs, key=lambda r: r["timestamp"])
    return records


def on_the_lab(address: str) -> str:
    route = subprocess.run(["ip", "route", "get", address], capture_output=True, text=True, check=True).stdout
    assert " dev woodybr0 " in route, route  # routing safety: only the lab's own addresses
    return address


def dig(name: str, kind: str = "A") -> list[str]:
    answer = subprocess.run(["dig", f"@{on_the_lab(DNS)}", "+short", "+time=2", "+tries=2", kind, name],
                            capture_output=True, text=True, check=True).stdout
    return answer.split()


def curl(url: str, address: str) -> tuple[float, str, int]:
    host, port = re.match(r"http://([^:/]+):?(\d*)", url).groups()
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-D", "-", "--max-time", "60", "--resolve",
                          f"{host}:{port or 80}:{on_the_lab(address)}", "-w", "%{time_total} %{http_code}", url],
                         capture_output=True, text=True, check=True).stdout
    status_line = out.rsplit("\n", 1)[-1].split()
    cache = re.search(r"(?im)^x-cache-status:\s*(\S+)", out)
    return float(status_line[0]), cache.group(1) if cache else "", int(status_line[1])


def test_four_rows_in_the_table():
    table = (RESULTS / "report.md").read_text()
    print(table)
    rows = [line for line in table.splitlines()[2:] if line.startswith("|")]
    assert [row.split("|")[1].strip() for row in rows] == ["initial", "+ replicas", "+ Redis", "+ CDN"]
    assert (RESULTS / "report.csv").read_text().count("\n") == 5
    assert (RESULTS / "report.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("stage", [name for name, stage in STAGES.items() if stage["redis"]])
@pytest.mark.parametrize("api", ["heavy", "db"])
def test_a_hit_costs_at_most_one_percent_of_a_miss(stage, api):
    record = newest()[stage]
    cold, warm = record[f"{api}_cold"], record[f"{api}_warm"]
    assert cold["cache"] == {"MISS": cold["count"]} and warm["cache"] == {"HIT": warm["count"]}
    assert warm["p50"] <= 0.01 * cold["p50"], (warm["p50"], cold["p50"])


def test_replicas_serve_parallel_requests_in_at_most_60_percent_of_the_time():
    records = newest()
    initial, replicas = records["initial"]["parallel"], records["replicas"]["parallel"]
    assert records["initial"]["api_replicas"] == 3 and records["replicas"]["api_replicas"] == 5
    print(f"5 parallel heavy requests: initial {initial['p50']:.2f} s, replicas {replicas['p50']:.2f} s")
    assert replicas["p50"] <= 0.6 * initial["p50"]


def test_the_cdn_page_with_its_image_loads_in_at_most_5_percent_of_the_initial_time():
    records = newest()
    initial, cdn = records["initial"]["page"], records["cdn"]["page"]
    print(f"full page: initial {initial['p50']:.3f} s, cdn {cdn['p50']:.3f} s")
    assert cdn["bytes"] >= 200_000 and initial["bytes"] >= 200_000  # the picture is in both
    assert cdn["p50"] <= 0.05 * initial["p50"]


@pytest.mark.parametrize("stage", [name for name, stage in STAGES.items() if not stage["cdn"]])
def test_the_recursive_load_is_the_page_and_its_picture_while_both_are_on_the_origin(stage):
    """The lab sheet's `wget -r` column compares with the full page load as long as the picture is on
    the page's own host: the same bytes (nothing else the page links to), about the same time."""
    record = newest()[stage]
    page, recursive = record["page"], record["recursive"]
    print(f"{stage}: full page {page['p50']:.3f} s, wget -r {recursive['p50']:.3f} s")
    assert recursive["bytes"] == page["bytes"]
    assert abs(recursive["p50"] - page["p50"]) <= 0.25 * page["p50"] + 0.5


def test_the_cdn_name_is_a_cname_to_the_edge_served_by_the_lab_dns():
    assert dig(CDN, "CNAME") == [f"edge.{ZONE}."]
    assert dig(f"edge.{ZONE}") == ["10.213.0.12"]
    assert dig(ZONE) == ["10.213.0.11"]
    serial = dig(ZONE, "SOA")[2]
    assert re.fullmatch(r"20\d{8}", serial)


def test_the_page_points_its_image_at_the_cdn_host():
    page = subprocess.run(["curl", "-s", "--max-time", "30", f"http://{on_the_lab(dig(ZONE)[0])}/"],
                          capture_output=True, text=True, check=True).stdout
    assert f'src="http://{CDN}:8081/5mo.jpg"' in page


def test_first_fetch_through_the_edge_misses_then_hits_without_the_origin_limit():
    edge = dig(CDN)[-1]
    url = f"http://{CDN}:8081/5mo.jpg?v={uuid.uuid4().hex}"  # a key the edge has never seen
    started = time.monotonic()
    miss_seconds, miss, status = curl(url, edge)
    assert (miss, status) == ("MISS", 200)
    hit_seconds, hit, status = curl(url, edge)
    assert (hit, status) == ("HIT", 200)
    print(f"edge: MISS {miss_seconds:.3f} s (origin at 50 kB/s), HIT {hit_seconds:.4f} s")
    assert miss_seconds > 1.0  # the origin's limit applied to the miss
    assert hit_seconds < 0.1 * miss_seconds < time.monotonic() - started


def test_the_api_through_the_edge_is_never_answered_from_its_cache():
    """The CDN is for the picture: the time asked twice through the edge is two answers (two
    curl runs apart: the API's clock has microseconds)."""
    edge = dig(CDN)[-1]
    url = f"http://{CDN}:8081/api/misc/time"
    answers = []
    for _ in range(2):
        out = subprocess.run(["curl", "-s", "-D", "-", "--max-time", "30", "--resolve",
                              f"{CDN}:8081:{on_the_lab(edge)}", url],
                             capture_output=True, text=True, check=True).stdout
        head, _, body = out.partition("\n\n")  # text=True: curl's CRLFs arrive as newlines
        assert re.search(r"(?im)^cache-control:\s*no-store\s*$", head), head
        assert re.search(r"(?im)^x-cache-status:\s*BYPASS\s*$", head), head
        answers.append(body)
    assert answers[0].startswith("misc: ") and answers[0] != answers[1], answers
