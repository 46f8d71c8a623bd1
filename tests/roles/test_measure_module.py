"""woody_measure and the measure role against a real HTTP server on loopback (a stand-in for the
shop with the same URLs, slow unless cached), and the refusal of names outside --resolve."""
from __future__ import annotations

import json
import sys
import textwrap
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ansible_run import run_playbook  # noqa: E402

from fakes.woody_shop import SLOW, Shop  # noqa: E402


@pytest.fixture(scope="module")
def shop():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def measure(tmp_path: Path, port: int, **settings: object):
    playbook = tmp_path / "measure.yml"
    playbook.write_text(textwrap.dedent("""\
        - name: Measure the stand-in shop
          hosts: localhost
          gather_facts: false
          roles:
            - role: measure
    """))
    extra = {"measure_site_url": f"http://shop.test:{port}/", "measure_stage": "redis", "measure_api_replicas": 5,
             "measure_resolve": [f"shop.test:{port}:127.0.0.1", f"cdn.shop.test:{port}:127.0.0.1"],
             "measure_repetitions": 3, "measure_results_dir": str(tmp_path / "results"), **settings}
    return run_playbook(playbook, extra, timeout=300)


def test_the_role_times_cold_warm_parallel_and_the_whole_page(tmp_path, shop):
    run = measure(tmp_path, shop)
    assert run.returncode == 0, run.failure_messages() or run.output[-2000:]
    records = json.loads((tmp_path / "results" / "redis.json").read_text())
    assert len(records) == 1
    figures = records[0]
    assert figures["heavy_cold"]["cache"] == {"MISS": 3} and figures["heavy_cold"]["p50"] >= SLOW
    assert figures["heavy_warm"]["cache"] == {"HIT": 3} and figures["heavy_warm"]["p50"] < SLOW / 10
    # the DB API reads no parameter: a product added before each cold request makes it miss
    assert figures["db_cold"]["cache"] == {"MISS": 3} and figures["db_warm"]["cache"] == {"HIT": 3}
    assert figures["db_warm"]["p50"] < figures["db_cold"]["p50"]
    # five slow requests at once on a threaded server: about one request's time, not five
    assert SLOW <= figures["parallel"]["p50"] < 3 * SLOW
    assert figures["parallel"]["throughput_p50"] > 5 / (3 * SLOW)
    # the page and both images (one through the CDN name), all 200
    assert figures["page"]["statuses"] == {"200": 3} and figures["page"]["bytes"] > 40_000
    table = (tmp_path / "results" / "report.md").read_text()
    assert "| + Redis | 5 |" in table
    report = next(task["hosts"]["localhost"] for play in run.report["plays"] for task in play["tasks"]
                  if task["task"]["name"].endswith("Write the comparison table"))
    assert report["table"] == table
    narrow = report["narrow_table"].splitlines()
    assert narrow[0].split("|")[2].strip() == "+ Redis" and max(len(line) for line in narrow) <= 80
    assert (tmp_path / "results" / "report.png").stat().st_size > 0
    again = measure(tmp_path, shop)
    assert again.returncode == 0
    assert len(json.loads((tmp_path / "results" / "redis.json").read_text())) == 2


def test_a_name_outside_resolve_is_refused_before_any_request(tmp_path, shop):
    run = measure(tmp_path, shop, measure_resolve=[f"cdn.shop.test:{shop}:127.0.0.1"])
    assert run.returncode != 0
    assert any(f"shop.test:{shop} is not in resolve" in m for m in run.failure_messages()), run.failure_messages()
    assert not (tmp_path / "results" / "redis.json").exists()


def test_a_closed_port_fails_naming_the_url(tmp_path):
    run = measure(tmp_path, 9, measure_resolve=["shop.test:9:127.0.0.1"], measure_repetitions=1)
    assert run.returncode != 0
    messages = " ".join(run.failure_messages())
    assert "got no answer, e.g. http://shop.test:9/" in messages and "Failed to connect" in messages, messages


def test_an_asset_outside_the_cluster_is_listed_and_expiry_makes_the_misses(tmp_path, shop):
    """Resolve names the site alone: the picture on the CDN host is left out of the page time and
    listed under the table. measure_cold_by expiry waits the entry's lifetime before each cold
    slow request and says so."""
    run = measure(tmp_path, shop, measure_resolve=[f"shop.test:{shop}:127.0.0.1"], measure_repetitions=1,
                  measure_cold_by="expiry", measure_cache_ttl_seconds=1)
    assert run.returncode == 0, run.failure_messages() or run.output[-2000:]
    figures = json.loads((tmp_path / "results" / "redis.json").read_text())[0]
    assert figures["page"]["outside"] == [f"http://cdn.shop.test:{shop}/5mo.jpg"]
    assert figures["page"]["statuses"] == {"200": 1}
    assert (figures["cold_by"], figures["cold_wait_seconds"]) == ("expiry", 1)
    narrow = " ".join(next(task["hosts"]["localhost"]["narrow_table"] for play in run.report["plays"]
                           for task in play["tasks"] if task["task"]["name"].endswith("Write the comparison table")).split())
    assert f"outside the cluster (not measured): http://cdn.shop.test:{shop}/5mo.jpg" in narrow
    assert "taken after the entry's expiry (1 s apart)" in narrow
