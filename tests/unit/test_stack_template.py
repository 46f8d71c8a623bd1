"""One template, four stages: what each stage renders, checked with `docker stack config`."""
from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from library_module import ROOT

from ansible_collections.woodyswarm.shop.plugins.module_utils.stages import STAGES

PASSWORD = "Not-In-Any-File-42"

PLAY = textwrap.dedent("""\
    - name: Render the stack template
      hosts: localhost
      connection: local
      gather_facts: false
      vars_files: [ROLE/defaults/main.yml, ROLE/vars/main.yml]
      vars:
        ansible_python_interpreter: "{{ ansible_playbook_python }}"
      tasks:
        - name: Render
          ansible.builtin.template:
            src: TEMPLATE
            dest: "{{ out }}"
            mode: "0644"
          vars:
            _stack_db_secret_name: woodytoys_db_root_password_v1
            _stack_db_app_secret_name: woodytoys_db_app_password_v1
            # What tasks/render.yml pins (image_digests), here without a registry.
            _stack_pinned_images: "{{ _stack_images | combine({'redis': stack_redis_image, 'cdn': stack_cdn_edge_image}) }}"
            _stack_redis_secret_names: {password: woodytoys_redis_password_v1, conf: woodytoys_redis_conf_v1}
""").replace("ROLE", str(ROOT / "roles/stack"))


def render(tmp_path: Path, template: str = "stack.yml.j2", **settings: object) -> dict:
    playbook = tmp_path / "render.yml"
    playbook.write_text(PLAY.replace("TEMPLATE", str(ROOT / "templates" / template)))
    out = tmp_path / "stack.yml"
    images = {s: f"reg:5000/woody/woody_{s}:ctx-1" for s in ("api", "reverse", "db", "front")}
    edge_conf = tmp_path / "cdn_edge.conf"
    edge_conf.write_text("server { listen 8080; }\n")
    extra = {"out": str(out), "stack_images": images, "stack_db_password": PASSWORD,
             "stack_cdn_edge_config_file": str(edge_conf), "stack_cdn_edge_config_name": "woodytoys_cdn_edge_0123", **settings}
    subprocess.run(["ansible-playbook", "-i", "localhost,", str(playbook), "-e", json.dumps(extra)],
                   cwd=ROOT, check=True, capture_output=True, text=True)
    text = out.read_text()
    assert PASSWORD not in text
    checked = subprocess.run(["docker", "stack", "config", "--compose-file", str(out)],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    return yaml.safe_load(checked.stdout)


@pytest.mark.parametrize("stage", list(STAGES))
def test_every_stage_renders_a_valid_stack(tmp_path, stage):
    stack = render(tmp_path, stack_stage=stage)
    services = stack["services"]
    assert ("redis" in services) == (stage in ("redis", "cdn"))
    assert services["api"]["deploy"]["replicas"] == (3 if stage == "initial" else 5)
    assert services["api"]["deploy"]["placement"]["constraints"] == ["node.role == worker"]
    assert services["db"]["deploy"]["placement"]["constraints"] == ["node.role == manager"]
    assert services["front"]["deploy"]["replicas"] == 2
    assert services["api"]["deploy"]["update_config"]["failure_action"] == "rollback"
    assert ("REDIS_URL" in services["api"]["environment"]) == (stage in ("redis", "cdn"))
    front_env = services["front"].get("environment") or {}
    assert (front_env.get("FRONT_IMAGE_URL") == "http://cdn.woodytoys.lab:8081/5mo.jpg") == (stage == "cdn")
    assert ("cdn" in services) == (stage == "cdn")  # the self-hosted edge, by default
    # Every service says what was deployed: the stage and the api count it asks for.
    assert {(s["deploy"]["labels"]["com.woodyswarm.stage"], s["deploy"]["labels"]["com.woodyswarm.stage-api-replicas"])
            for s in services.values()} == {(stage, "3" if stage == "initial" else "5")}
    assert "db-data" in stack["volumes"]
    assert stack["secrets"]["woodytoys_db_root_password_v1"]["external"] is True
    # The api logs in as its own user; root's password reaches the database alone.
    assert services["api"]["environment"]["DB_USER"] == "woody_api_v1"  # one login per secret version
    assert [(s["source"], s["target"]) for s in services["api"]["secrets"] if s["source"].startswith("woodytoys_db")] \
        == [("woodytoys_db_app_password_v1", "db_password")]
    assert services["api"]["environment"]["DB_PASSWORD_FILE"] == "/run/secrets/db_password"
    assert [name for name, spec in services.items()
            if any(s["source"] == "woodytoys_db_root_password_v1" for s in spec.get("secrets", []))] == ["db"]
    assert services["db"]["environment"]["MYSQL_ROOT_HOST"] == "localhost"
    if stage in ("redis", "cdn"):
        # Redis asks for a password that only secrets carry: its config file, the clients' file.
        assert services["redis"]["command"][:2] == ["redis-server", "/run/secrets/redis.conf"]
        assert [s["source"] for s in services["redis"]["secrets"]] == ["woodytoys_redis_conf_v1"]
        assert services["api"]["environment"]["REDIS_PASSWORD_FILE"] == "/run/secrets/redis_password"
        assert services["reverse"]["environment"]["RP_CACHE_REDIS_PASSWORD_FILE"] == "/run/secrets/redis_password"
        for client in ("api", "reverse"):
            assert any(s["source"] == "woodytoys_redis_password_v1" and s["target"] == "redis_password"
                       for s in services[client]["secrets"]), client


def test_a_count_set_by_hand_keeps_the_stage_count_as_label(tmp_path):
    """scale.yml's count runs; the labels still say what the stage asks for (measure shows both)."""
    services = render(tmp_path, stack_stage="redis", stack_api_replicas_override=7)["services"]
    assert services["api"]["deploy"]["replicas"] == 7
    assert services["api"]["deploy"]["labels"]["com.woodyswarm.stage-api-replicas"] == "5"
    assert services["api"]["deploy"]["labels"]["com.woodyswarm.stage"] == "redis"


def test_only_the_proxy_joins_the_front_tier_to_the_state(tmp_path):
    """The front tier (front, the CDN edge) shares no network with MariaDB, Redis or the API."""
    stack = render(tmp_path, stack_stage="cdn")
    networks = {name: sorted(service["networks"]) for name, service in stack["services"].items()}
    assert networks == {"db": ["back"], "api": ["back"], "redis": ["back"], "front": ["front"],
                        "cdn": ["front"], "reverse": ["back", "front"]}
    assert stack["networks"]["back"].get("internal") is True


def test_encrypted_overlays_are_a_knob(tmp_path):
    plain, encrypted = render(tmp_path), render(tmp_path, stack_overlay_encrypted=True)
    assert all("encrypted" not in (network.get("driver_opts") or {}) for network in plain["networks"].values())
    assert all("encrypted" in network["driver_opts"] for network in encrypted["networks"].values())


def test_services_keep_only_the_capabilities_they_need(tmp_path):
    services = render(tmp_path, stack_stage="cdn")["services"]
    assert services["api"]["cap_drop"] == ["ALL"] and "cap_add" not in services["api"]
    assert services["api"]["read_only"] is True
    assert [(v["type"], v["target"]) for v in services["api"]["volumes"]] == [("tmpfs", "/tmp")]
    assert services["front"]["cap_add"] == ["CHOWN", "NET_BIND_SERVICE", "SETGID", "SETUID"]
    for name in ("redis", "reverse", "cdn"):
        assert services[name]["cap_drop"] == ["ALL"] and services[name]["cap_add"] == ["CHOWN", "SETGID", "SETUID"], name
    assert "cap_drop" not in services["db"]


def test_default_publishing_is_ingress_with_vips(tmp_path):
    stack = render(tmp_path)
    reverse = stack["services"]["reverse"]
    assert reverse["ports"][0]["mode"] == "ingress" and reverse["ports"][0]["published"] == 80
    assert reverse["deploy"]["replicas"] == 2
    assert reverse["deploy"]["endpoint_mode"] == "vip"


def test_clusters_without_ipvs_get_dnsrr_and_host_ports(tmp_path):
    stack = render(tmp_path, stack_endpoint_mode="dnsrr", stack_publish_mode="host")
    reverse = stack["services"]["reverse"]
    assert reverse["ports"][0]["mode"] == "host"
    assert reverse["deploy"]["mode"] == "global"
    assert {s["deploy"]["endpoint_mode"] for s in stack["services"].values()} == {"dnsrr"}


def test_knobs_reach_the_services(tmp_path):
    stack = render(tmp_path, stack_heavy_seconds=1, stack_db_sleep_seconds=2, stack_static_rate="0",
                   stack_resources={"api": {"cpus": "0.5", "memory": "256M"}})
    api = stack["services"]["api"]
    assert api["environment"]["HEAVY_SECONDS"] == "1" and api["environment"]["DB_SLEEP_SECONDS"] == "2"
    assert api["deploy"]["resources"]["limits"] == {"cpus": "0.5", "memory": str(256 * 1024 * 1024)}
    assert stack["services"]["db"]["deploy"]["resources"]["limits"]["memory"] == str(1024 ** 3)  # the rest kept
    assert stack["services"]["reverse"]["environment"]["RP_STATIC_RATE"] == "0"


def test_cdn_edge_serves_on_its_own_port_with_its_config(tmp_path):
    stack = render(tmp_path, stack_stage="cdn", stack_endpoint_mode="dnsrr", stack_publish_mode="host")
    edge = stack["services"]["cdn"]
    assert edge["ports"][0]["published"] == 8081 and edge["ports"][0]["mode"] == "host"
    assert edge["configs"][0]["target"] == "/etc/nginx/conf.d/default.conf"
    assert stack["configs"]["cdn_edge_conf"]["name"] == "woodytoys_cdn_edge_0123"


def test_an_external_cdn_runs_no_edge_and_serves_on_port_80(tmp_path):
    stack = render(tmp_path, stack_stage="cdn", stack_cdn_provider="external", stack_cdn_host="cdn.shop.example")
    assert "cdn" not in stack["services"] and "configs" not in stack
    assert stack["services"]["front"]["environment"]["FRONT_IMAGE_URL"] == "http://cdn.shop.example/5mo.jpg"


def test_https_publishes_the_tls_port_with_the_certificate_as_secrets(tmp_path):
    certificate, key = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----", "-----BEGIN PRIVATE KEY-----\nMIIC\n-----END PRIVATE KEY-----"
    stack = render(tmp_path, stack_tls_certificate=certificate, stack_tls_key=key, stack_https_redirect=True,
                   _stack_tls_secret_names={"certificate": "woodytoys_tls_certificate_v1", "key": "woodytoys_tls_key_v1"})
    reverse = stack["services"]["reverse"]
    assert [(p["target"], p["published"]) for p in reverse["ports"]] == [(8080, 80), (8443, 443)]
    assert {(s["source"], s["target"]) for s in reverse["secrets"]} == {
        ("woodytoys_tls_certificate_v1", "tls.crt"), ("woodytoys_tls_key_v1", "tls.key")}
    env = reverse["environment"]
    assert (env["RP_TLS_CERT_FILE"], env["RP_TLS_KEY_FILE"]) == ("/run/secrets/tls.crt", "/run/secrets/tls.key")
    assert (env["RP_HTTPS_REDIRECT"], env["RP_HTTPS_PUBLIC_PORT"]) == ("1", "443")
    assert "MIIC" not in (tmp_path / "stack.yml").read_text()


def test_without_a_certificate_only_plain_http_is_published(tmp_path):
    reverse = render(tmp_path)["services"]["reverse"]
    assert [p["target"] for p in reverse["ports"]] == [8080]
    assert not any(name.startswith("RP_TLS") for name in reverse["environment"])


@pytest.mark.parametrize(("mode", "limited"), [("host", True), ("ingress", False)])
def test_client_limits_on_by_default_where_the_proxy_sees_the_clients(tmp_path, mode, limited):
    env = render(tmp_path, stack_publish_mode=mode)["services"]["reverse"]["environment"]
    assert ("RP_CLIENT_RATE" in env and "RP_CLIENT_CONNECTIONS" in env) == limited
    if limited:
        assert (env["RP_CLIENT_RATE"], env["RP_CLIENT_BURST"], env["RP_CLIENT_CONNECTIONS"]) == ("50", "200", "100")


def test_every_service_has_memory_and_cpu_limits_by_default(tmp_path):
    services = render(tmp_path, stack_stage="cdn")["services"]
    limits = {name: spec["deploy"]["resources"]["limits"] for name, spec in services.items()}
    assert set(limits) == {"db", "api", "front", "reverse", "redis", "cdn"}
    assert all(float(limit["cpus"]) > 0 and int(limit["memory"]) > 0 for limit in limits.values()), limits
    # Redis evicts below its task's ceiling rather than being killed at it.
    command = services["redis"]["command"]
    maxmemory = command[command.index("--maxmemory") + 1]
    assert int(maxmemory.removesuffix("mb")) * 1024 ** 2 < int(limits["redis"]["memory"])
    assert command[command.index("--maxmemory-policy") + 1] == "allkeys-lru"


# --- the lab sheet's contract (templates/stack-lab-sheet.yml.j2) ----------------------------------------

@pytest.mark.parametrize("stage", list(STAGES))
def test_the_lab_sheets_stack_follows_its_files_and_keeps_the_state_internal(tmp_path, stage):
    stack = render(tmp_path, "stack-lab-sheet.yml.j2", stack_stage=stage, stack_app_contract="lab_sheet")
    services = stack["services"]
    assert sorted(services) == sorted(["db", "api", "front", "reverse"] + (["redis"] if stage in ("redis", "cdn") else [])
                                      + (["cdn"] if stage == "cdn" else []))
    # The lab sheet's health check and count; its app reads no settings from us.
    assert services["api"]["healthcheck"]["test"] == ["CMD", "curl", "-f", "http://localhost:5000/api/ping"]
    assert services["api"]["healthcheck"]["interval"] == "30s"
    assert services["api"]["deploy"]["replicas"] == (3 if stage == "initial" else 5)
    assert "environment" not in services["api"] and "secrets" not in services["api"]
    # Root's password, the one the app's code holds, only as a secret file of the database.
    assert services["db"]["environment"] == {"MYSQL_DATABASE": "woody", "MYSQL_ROOT_PASSWORD_FILE": "/run/secrets/db_root_password"}
    assert list(stack["secrets"]) == ["woodytoys_db_root_password_v1"]
    if "redis" in services:
        assert "requirepass" not in " ".join(services["redis"]["command"]) and "secrets" not in services["redis"]
    # Nothing of the state on the front tier; the back network has no way out or in.
    assert stack["networks"]["back"]["internal"] is True
    assert {name for name, s in services.items() if "back" in s["networks"]} == {"db", "api", "reverse"} | (
        {"redis"} if "redis" in services else set())
    assert all("cap_drop" not in s and not s.get("read_only") for s in services.values())
    assert {s["deploy"]["labels"]["com.woodyswarm.contract"] for s in services.values()} == {"lab_sheet"}
    assert services["reverse"]["ports"][0]["target"] == 8080
