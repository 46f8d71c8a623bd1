"""The measuring modules one by one, in ONE playbook run against a real threaded HTTP server on
127.0.0.1 (a stand-in for the shop: same URLs, 0.2 s unless cached, X-Cache HIT/MISS keyed on
path + sorted query). test_measure_module.py runs the whole role; this file checks what the role
relies on: every asset of the page is fetched wherever it is hosted, cold runs use a new cache key
each time and warm runs one, parallel requests carry distinct names and overlap, and woody_report
renders the four stages' files and refuses a broken one naming it."""
from __future__ import annotations

import json
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ansible_run import PlayRun, run_playbook  # noqa: E402

from fakes.woody_shop import SLOW, Shop  # noqa: E402


def summary(p50: float, cache: dict[str, int], **extra: float) -> dict:
    return {"count": 3, "min": p50, "p50": p50, "p95": p50, "max": p50, "statuses": {"200": 3},
            "cache": cache, "bytes": 10, **extra}


def record(stage: str, replicas: int, page: float, hit: float | None, wall: float) -> dict:
    warm = {"HIT": 3} if hit is not None else {"MISS": 3}
    return {"stage": stage, "api_replicas": replicas, "timestamp": "2026-11-27T02:00:00Z", "context": {},
            "page": summary(page, {"-": 3}), "recursive": None,
            "heavy_cold": summary(5.0, {"MISS": 3}), "heavy_warm": summary(hit or 5.0, warm),
            "db_cold": summary(15.0, {"MISS": 3}), "db_warm": summary(hit or 15.0, warm),
            "parallel": summary(wall, {"-": 3}, throughput_p50=5 / wall)}


PLAYBOOK = """\
- name: Run each measuring module once
  hosts: localhost
  gather_facts: false
  vars:
    resolve: ["shop.test:{{ port }}:127.0.0.1", "cdn.shop.test:{{ port }}:127.0.0.1"]
    site: "http://shop.test:{{ port }}/"
  tasks:
    - name: Page
      woodyswarm.shop.woody_measure: {kind: page, url: "{{ site }}", resolve: "{{ resolve }}", repetitions: 2,
                                      timeout: 10}
    - name: Cold
      woodyswarm.shop.woody_measure: {url: "{{ site }}api/misc/heavy", fresh_query: name, resolve: "{{ resolve }}",
                                      repetitions: 3}
    - name: Warm
      woodyswarm.shop.woody_measure: {url: "{{ site }}api/misc/heavy", fresh_query: name, prime: true,
                                      resolve: "{{ resolve }}", repetitions: 3}
    - name: Parallel
      woodyswarm.shop.woody_measure: {kind: parallel, url: "{{ site }}api/misc/heavy", fresh_query: name,
                                      parallel: 5, resolve: "{{ resolve }}", repetitions: 1}
    - name: Report
      woodyswarm.shop.woody_report: {results_dir: "{{ good }}"}
    - name: Broken report
      woodyswarm.shop.woody_report: {results_dir: "{{ broken }}"}
      ignore_errors: true
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[PlayRun, dict[str, dict], Path, list[tuple[str, str]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    folder = tmp_path_factory.mktemp("measure")
    good, broken = folder / "good", folder / "broken"
    good.mkdir()
    broken.mkdir()
    for stage, replicas, page, hit, wall in [("initial", 3, 16.0, None, 10.0), ("replicas", 5, 16.0, None, 5.0),
                                             ("redis", 5, 16.0, 0.002, 5.0), ("cdn", 5, 0.5, 0.002, 5.0)]:
        (good / f"{stage}.json").write_text(json.dumps([record(stage, replicas, page, hit, wall)]))
    (good / "notes.json").write_text('{"not": "a stage file"}')
    (broken / "redis.json").write_text(json.dumps([record("cdn", 5, 0.5, 0.002, 5.0)]))
    playbook = folder / "modules.yml"
    playbook.write_text(textwrap.dedent(PLAYBOOK))
    done = run_playbook(playbook, {"port": server.server_address[1], "good": str(good), "broken": str(broken)},
                        timeout=120)
    server.shutdown()
    results = {task["task"]["name"]: task["hosts"]["localhost"] for play in done.report.get("plays", [])
               for task in play["tasks"]}
    yield done, results, good, list(Shop.seen)


def api_names(seen: list[tuple[str, str]]) -> list[str]:
    return [parse_qs(urlsplit(path).query)["name"][0] for _, path in seen if path.startswith("/api/misc/heavy")]


def test_the_page_and_every_asset_wherever_hosted(run):
    _, results, _, seen = run
    page = results["Page"]
    assert not page.get("failed") and page["changed"] is False, page.get("msg")
    port = page["url"].rsplit(":", 1)[1].rstrip("/")
    for sample in page["samples"]:
        fetched = [part["url"] for part in sample["parts"]]
        assert fetched == [page["url"], page["url"] + "style.css", page["url"] + "app.js", page["url"] + "5mo.jpg",
                           f"http://cdn.shop.test:{port}/5mo.jpg"]
        assert [part["status"] for part in sample["parts"]] == [200] * 5
        assert sample["seconds"] == pytest.approx(sum(part["seconds"] for part in sample["parts"]))
    assert page["summary"]["count"] == 2 and page["summary"]["bytes"] > 2 * 20_000
    assert (f"cdn.shop.test:{port}", "/5mo.jpg") in seen  # really asked under the CDN's name


def test_cold_runs_miss_with_a_new_name_each_and_warm_runs_hit_one_name(run):
    _, results, _, seen = run
    cold, warm = results["Cold"], results["Warm"]
    assert cold["summary"]["cache"] == {"MISS": 3} and cold["summary"]["p50"] >= SLOW
    assert len({sample["url"] for sample in cold["samples"]}) == 3
    assert warm["prime"]["cache"] == "MISS" and warm["summary"]["cache"] == {"HIT": 3}
    assert {sample["url"] for sample in warm["samples"]} == {warm["prime"]["url"]}
    assert warm["summary"]["p50"] < cold["summary"]["p50"] / 5
    assert cold["changed"] is False and warm["changed"] is False
    assert len(set(api_names(seen))) == 3 + 1 + 5  # cold, warm, parallel


def test_parallel_requests_carry_distinct_names_and_overlap(run):
    _, results, _, _ = run
    parallel = results["Parallel"]
    requests = parallel["samples"][0]["requests"]
    names = [parse_qs(urlsplit(r["url"]).query)["name"][0] for r in requests]
    assert len(set(names)) == 5
    assert all(r["status"] == 200 and r["cache"] == "MISS" and r["seconds"] >= SLOW for r in requests)
    wall = parallel["summary"]["p50"]
    assert SLOW <= wall < 5 * SLOW  # five 0.2 s requests on a threaded server overlap
    assert parallel["summary"]["throughput_p50"] == pytest.approx(5 / wall)


def test_report_renders_the_four_stage_files_only(run):
    _, results, good, _ = run
    report = results["Report"]
    assert not report.get("failed"), report.get("msg")
    table = (good / "report.md").read_text()
    assert report["table"] == table
    assert [line.split(" | ")[0] for line in table.splitlines()[2:]] == ["| initial", "| + replicas", "| + Redis",
                                                                         "| + CDN"]
    assert "| + CDN | 5 | 0.500 s (-96.9 %) |" in table
    assert (good / "report.csv").read_text().splitlines()[1:] == [
        "initial,3,16.0000,,5.0000,,15.0000,,10.0000,0.5000,2026-11-27T02:00:00Z",
        "replicas,5,16.0000,,5.0000,,15.0000,,5.0000,1.0000,2026-11-27T02:00:00Z",
        "redis,5,16.0000,,5.0000,0.0020,15.0000,0.0020,5.0000,1.0000,2026-11-27T02:00:00Z",
        "cdn,5,0.5000,,5.0000,0.0020,15.0000,0.0020,5.0000,1.0000,2026-11-27T02:00:00Z"]
    png = (good / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_report_refuses_a_stage_file_holding_another_stage_naming_it(run):
    _, results, _, _ = run
    broken = results["Broken report"]
    assert broken.get("failed")
    assert "broken/redis.json: record 0 is of stage 'cdn', not 'redis'" in broken["msg"], broken["msg"]
