"""The cdn role's gcore provider against a local fake of Gcore's CDN API (tests/fakes/gcore_api.py).

Nothing leaves 127.0.0.1: the role is pointed at the fake with cdn_gcore_api_url. A first run
creates the resource; every other run starts from a fake holding exactly what that run created
(so they are independent and run side by side, the suite stays fast): a rerun, a new origin, a
changed field, a changed front, a wrong key, no key. The tests read what each run sent.
"""
from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ansible_run import PlayRun, run_playbook  # noqa: E402
from fakes.gcore_api import FakeGcoreApi, Recorded, self_signed  # noqa: E402

KEY = "4711$Zq8sEcReTvAlUe"
WRONG_KEY = "9999$WrOnGkEyVaLuE"
CDN_HOST = "cdn.woodytoys.example"
ORIGIN = "shop.woodytoys.example"
ACCOUNT_CNAME = "cl-4711.gcdn.example"
API_RULE = {"name": "woodyswarm uncached /api", "rule": "^/api", "ruleType": 0, "active": True,
            "options": {"edge_cache_settings": {"enabled": True, "value": "0s"}}}


def play(directory: Path) -> Path:
    playbook = directory / "cdn_gcore.yml"
    playbook.write_text(textwrap.dedent("""\
        - name: Put Gcore's CDN in front of the shop
          hosts: controller
          gather_facts: false
          roles:
            - role: cdn
          post_tasks:
            - name: Report the CNAME target
              ansible.builtin.debug:
                var: cdn_cname_target
        """))
    return playbook


def base_vars(fake: FakeGcoreApi, **extra: Any) -> dict[str, Any]:
    assert fake.tls is not None
    return {"cdn_provider": "gcore", "cdn_gcore_api_url": fake.url, "cdn_gcore_api_key": KEY,
            "cdn_gcore_ca_path": str(fake.tls[0]), "cdn_host": CDN_HOST, "cdn_gcore_origin": ORIGIN, **extra}


def cname_target(run: PlayRun) -> str | None:
    for play_report in run.report.get("plays", []):
        for task in play_report["tasks"]:
            if task["task"]["name"] == "Report the CNAME target":
                return next(iter(task["hosts"].values())).get("cdn_cname_target")
    return None


def changed(run: PlayRun) -> int:
    return sum(host["changed"] for host in run.report["stats"].values())


@dataclass
class Step:
    fake: FakeGcoreApi = field(repr=False)
    run: PlayRun = field(repr=False)
    requests: list[Recorded]

    @property
    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    def explain(self) -> str:
        return f"writes={[(w.method, w.path, w.body) for w in self.writes]} failures={self.run.failure_messages()}"


def step(playbook: Path, tls: tuple[Path, Path], seed: dict[str, Any] | None = None,
         seed_rules: tuple[dict[str, Any], ...] = (), paginate: bool = True, **extra: Any) -> Step:
    """One run of the role against a fresh fake (HTTPS with the `tls` certificate), holding the
    resource `seed` created if given, with the rules `seed_rules`."""
    with FakeGcoreApi(api_key=KEY, account_cname=ACCOUNT_CNAME, paginate=paginate, tls=tls) as fake:
        if seed is not None:
            resource = fake.seed_resource(seed)
            for rule in seed_rules:
                fake.seed_rule(resource["id"], rule)
        run = run_playbook(playbook, base_vars(fake, **extra), timeout=300)
    return Step(fake, run, list(fake.requests))


@pytest.fixture(scope="module")
def steps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Step]]:
    playbook = play(tmp_path_factory.mktemp("cdn_gcore"))
    tls = self_signed(tmp_path_factory.mktemp("tls"))
    with ThreadPoolExecutor(max_workers=(os.cpu_count() or 1) + 1) as pool:
        # Runs that need no resource start with the one creating it.
        unseeded = {name: pool.submit(step, playbook, tls, **kwargs) for name, kwargs in {
            "create": {},
            "wrong_key": {"cdn_gcore_api_key": WRONG_KEY},
            "no_key": {"cdn_gcore_api_key": ""},
            # The key must never travel in clear, nor to a server whose certificate is not trusted.
            "plain_http": {"cdn_gcore_api_url": "http://127.0.0.1:9"},
            "untrusted": {"cdn_gcore_ca_path": ""},
        }.items()}
        create = unseeded["create"].result()
        created = [w.body for w in create.writes if (w.method, w.path) == ("POST", "/cdn/resources")]
        seed = created[0] if len(created) == 1 else None
        rules = tuple(w.body for w in create.writes if w.method == "POST" and w.path.endswith("/rules"))
        drifted = ({**API_RULE, "options": {"edge_cache_settings": {"enabled": True, "value": "600s"}}},
                   {**API_RULE, "name": "woodyswarm uncached /old", "rule": "^/old"},
                   {"name": "pictures a week", "rule": "^/.*[.]jpg", "ruleType": 0,
                    "options": {"edge_cache_settings": {"enabled": True, "value": "604800s"}}})
        seeded = {name: pool.submit(step, playbook, tls, **{"seed": seed, "seed_rules": rules, **kwargs}) for name, kwargs in {
            # older API versions list resources as a bare array, newer ones as a page
            "rerun": {"paginate": False},
            "new_origin": {"cdn_gcore_origin": "origin2.woodytoys.example"},
            "https": {"cdn_gcore_origin_protocol": "HTTPS"},
            "front_changed": {"cdn_front_changed": True},
            "rules_drifted": {"seed_rules": drifted},
        }.items()}
        yield {name: future.result() for name, future in {**unseeded, **seeded}.items()}


SUCCEEDING = ("create", "rerun", "new_origin", "https", "front_changed", "rules_drifted")


def test_every_run_succeeds_and_never_shows_the_key(steps: dict[str, Step]) -> None:
    for name, done in steps.items():
        if name in SUCCEEDING:
            assert done.run.returncode == 0, f"{name}: {done.explain()}\n{done.run.output[-3000:]}"
        for secret in (KEY, KEY.split("$")[1], WRONG_KEY, WRONG_KEY.split("$")[1]):
            assert secret not in done.run.output, f"{name}: an API key appears in the play's output"
        # Every request carried the key, as Gcore documents it.
        if name != "wrong_key":
            assert {r.headers.get("Authorization") for r in done.requests} <= {f"APIKey {KEY}"}, name


def test_first_run_creates_one_resource_with_the_expected_body(steps: dict[str, Step]) -> None:
    create = steps["create"]
    (resource,) = create.fake.resources.values()
    assert [(w.method, w.path) for w in create.writes] == [
        ("POST", "/cdn/resources"), ("POST", f"/cdn/resources/{resource['id']}/rules")], create.explain()
    assert create.writes[0].body == {
        "cname": CDN_HOST, "origin": ORIGIN, "originProtocol": "HTTP", "name": "woodytoys-cdn",
        "description": "WoodyToys shop images (woodyswarm)", "active": True, "secondaryHostnames": [],
        "options": {"edge_cache_settings": {"enabled": True, "value": "86400s"}},
    }
    assert changed(create.run) == 2
    assert [r["cname"] for r in create.fake.resources.values()] == [CDN_HOST]


def test_the_api_gets_a_rule_that_caches_nothing(steps: dict[str, Step]) -> None:
    """The resource caches a day whatever the origin says: /api needs its rule (issue 14)."""
    create = steps["create"]
    (resource,) = create.fake.resources.values()
    assert create.writes[1].body == API_RULE
    assert [{k: r[k] for k in API_RULE} for r in create.fake.rules[resource["id"]].values()] == [API_RULE]


def test_drifted_rules_are_put_back_and_the_user_s_own_left_alone(steps: dict[str, Step]) -> None:
    drifted = steps["rules_drifted"]
    (resource,) = drifted.fake.resources.values()
    rules = drifted.fake.rules[resource["id"]]
    writes = [(w.method, w.path.rsplit("/rules/", 1)[0]) for w in drifted.writes]
    assert writes == [("PUT", f"/cdn/resources/{resource['id']}"), ("DELETE", f"/cdn/resources/{resource['id']}")], \
        drifted.explain()
    assert drifted.writes[0].body == API_RULE
    assert sorted(r["name"] for r in rules.values()) == ["pictures a week", "woodyswarm uncached /api"]
    assert changed(drifted.run) == 2


def test_the_cname_target_comes_from_the_account(steps: dict[str, Step]) -> None:
    assert ("GET", "/cdn/clients/me") in [(r.method, r.path) for r in steps["create"].requests]
    for name in SUCCEEDING:
        assert cname_target(steps[name].run) == ACCOUNT_CNAME + ".", name


def test_a_rerun_changes_nothing(steps: dict[str, Step]) -> None:
    rerun = steps["rerun"]
    assert rerun.writes == [], rerun.explain()
    assert changed(rerun.run) == 0
    # It found the resource by its cname.
    listing = [r for r in rerun.requests if r.path == "/cdn/resources"]
    assert [r.query.get("cname") for r in listing] == [[CDN_HOST]]


def test_a_new_origin_makes_one_put_of_the_origin_group(steps: dict[str, Step]) -> None:
    new_origin = steps["new_origin"]
    (resource,) = new_origin.fake.resources.values()
    group = resource["originGroup"]
    assert [(w.method, w.path) for w in new_origin.writes] == [("PUT", f"/cdn/origin_groups/{group}")], new_origin.explain()
    body = new_origin.writes[0].body
    assert body["sources"] == [{"source": "origin2.woodytoys.example", "enabled": True, "backup": False}]
    assert body["name"] == f"{CDN_HOST}-origin" and body["use_next"] is False
    assert new_origin.fake.origin_groups[group]["sources"][0]["source"] == "origin2.woodytoys.example"
    assert changed(new_origin.run) == 1


def test_a_changed_field_makes_one_put_of_the_resource(steps: dict[str, Step]) -> None:
    https = steps["https"]
    (resource,) = https.fake.resources.values()
    assert [(w.method, w.path) for w in https.writes] == [("PUT", f"/cdn/resources/{resource['id']}")], https.explain()
    body = https.writes[0].body
    assert body["originProtocol"] == "HTTPS" and body["originGroup"] == resource["originGroup"]
    # A PUT replaces: the fields the role does not own go back as they were.
    assert body["sslEnabled"] is False and "cname" not in body and "origin" not in body
    assert resource["originProtocol"] == "HTTPS"
    assert changed(https.run) == 1


def test_a_purge_happens_only_when_the_front_changed(steps: dict[str, Step]) -> None:
    for name in ("create", "rerun", "new_origin", "https"):
        assert not [w for w in steps[name].writes if w.path.endswith("/purge")], name
    front_changed = steps["front_changed"]
    (resource,) = front_changed.fake.resources.values()
    purge = ("POST", f"/cdn/resources/{resource['id']}/purge", {"urls": ["/5mo.jpg", "/index.html"]})
    assert [(w.method, w.path, w.body) for w in front_changed.writes] == [purge], front_changed.explain()
    assert front_changed.fake.purges == [(resource["id"], {"urls": ["/5mo.jpg", "/index.html"]})]
    assert changed(front_changed.run) == 1


def test_a_wrong_key_fails_clearly(steps: dict[str, Step]) -> None:
    wrong_key = steps["wrong_key"]
    assert wrong_key.run.returncode != 0
    messages = wrong_key.run.failure_messages()
    assert any("HTTP 401" in m and "cdn_gcore_api_key" in m for m in messages), messages
    assert [(r.method, r.path) for r in wrong_key.requests] == [("GET", "/cdn/clients/me")]
    assert wrong_key.requests[0].headers.get("Authorization") == f"APIKey {WRONG_KEY}"


def test_a_missing_key_is_refused_before_any_request(steps: dict[str, Step]) -> None:
    no_key = steps["no_key"]
    assert no_key.run.returncode != 0
    assert any("cdn_gcore_api_key must be set" in m for m in no_key.run.failure_messages()), no_key.run.failure_messages()
    assert no_key.requests == []


def test_plain_http_is_refused_before_any_request(steps: dict[str, Step]) -> None:
    plain = steps["plain_http"]
    assert plain.run.returncode != 0
    assert any("must be an https URL" in m for m in plain.run.failure_messages()), plain.run.failure_messages()
    assert plain.requests == []


def test_an_untrusted_certificate_stops_the_role_before_the_key_is_sent(steps: dict[str, Step]) -> None:
    untrusted = steps["untrusted"]
    assert untrusted.run.returncode != 0
    assert untrusted.requests == []  # the TLS handshake failed: no request, no key, reached the fake
    assert any("CERTIFICATE_VERIFY_FAILED" in m or "certificate verify failed" in m
               for m in untrusted.run.failure_messages()), untrusted.run.failure_messages()

