"""Bad input is refused by argument validation, naming the variable, before anything changes.

Each case runs one role through ansible-playbook with one wrong value and checks that the play
fails in validation (argument spec or preflight assert) with a message naming the variable, and
that no task reported a change.
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ansible_run import PlayRun, run_playbook  # noqa: E402

# role, host pattern, bad variables, text the error must hold (the variable's name, or the record's)
# measure_results_dir has no default (the caller names it): given, so that the bad value is what fails.
MEASURE_REQUIRED = {"measure_results_dir": "/tmp/woodyswarm-unused"}
CASES: list[tuple[str, str, dict[str, object], str]] = [
    ("local_lab", "controller", {"local_lab_workers": -1}, "local_lab_workers"),
    ("local_lab", "controller", {"local_lab_workers": "two"}, "local_lab_workers"),
    ("local_lab", "controller", {"local_lab_state": "running"}, "local_lab_state"),
    ("local_lab", "controller", {"local_lab_subnet_prefix": "10.213.0.0"}, "local_lab_subnet_prefix"),
    ("local_lab", "controller", {"local_lab_bridge": "a-bridge-name-too-long"}, "local_lab_bridge"),
    ("local_lab", "controller",
     {"local_lab_forwards": [{"name": "site", "listen_port": 8080, "target": "192.0.2.1", "target_port": 80}]},
     "local_lab_forwards"),
    ("docker_engine", "controller", {"docker_engine_source": "snap"}, "docker_engine_source"),
    ("docker_engine", "controller", {"docker_engine_service_manager": "upstart"}, "docker_engine_service_manager"),
    ("docker_engine", "controller", {"docker_engine_wait_timeout": 0}, "docker_engine_wait_timeout"),
    ("docker_engine", "controller", {"docker_engine_host": "/var/run/docker.sock"}, "docker_engine_host"),
    ("docker_engine", "controller", {"docker_engine_insecure_registries": "10.213.0.10:5000"},
     "docker_engine_insecure_registries"),
    ("docker_engine", "controller", {"docker_engine_daemon_options": "debug=true"}, "docker_engine_daemon_options"),
    ("registry", "controller", {"registry_server": "harbor"}, "registry_server"),
    ("registry", "controller", {"registry_port": 70000}, "registry_port"),
    ("registry", "controller", {"registry_logins": [{"registry": "docker.io", "username": "u"}]}, "password"),
    ("registry", "controller", {"registry_auth_users": [{"username": "woody"}]}, "password"),
    ("registry", "controller", {"registry_auth_users": [{"username": "wo:ody", "password": "p"}]}, "colon"),
    ("registry", "controller", {"registry_auth_users": [{"username": "woody", "password": ""}]}, "non-empty password"),
    ("registry", "controller", {"registry_auth_users": "woody:secret"}, "registry_auth_users"),
    ("registry", "controller", {"registry_auth_users": [], "registry_server": "process"}, "registry_auth_users is empty"),
    ("registry", "controller", {"registry_htpasswd_cost": 3}, "registry_htpasswd_cost"),
    ("swarm", "node2", {"swarm_advertise_addr": ""}, "swarm_advertise_addr"),
    ("swarm", "node2", {"swarm_port": 0}, "swarm_port"),
    ("swarm", "node2", {"swarm_node_labels": ["a=b"]}, "swarm_node_labels"),
    ("swarm", "node2", {"swarm_node_labels": "a=b"}, "swarm_node_labels"),
    ("local_lab", "controller", {"local_lab_node_packages": "docker.io"}, "local_lab_node_packages"),
    ("local_lab", "controller", {"local_lab_boot_timeout": 0}, "local_lab_boot_timeout"),
    ("daemon", "controller", {"daemon_name": "x", "daemon_command": ["sleep", "1"]}, "daemon_command"),
    ("images", "controller", {"images_source": "svn"}, "images_source"),
    ("images", "controller", {"images_namespace": "Bad Name"}, "images_namespace"),
    ("images", "controller", {"images_source": "git"}, "images_git_repo"),
    ("images", "controller", {"images_build_args": ["JPEG_BYTES=1"]}, "images_build_args"),
    ("images", "controller", {"images_stage_variants": {"cdn": {"front": {"context": "front-cdn"}}}},
     "images_stage_variants.cdn.front: give tag"),
    ("images", "controller", {"images_stage_variants": {"turbo": {}}}, "images_stage_variants.turbo: unknown stage"),
    ("base_images", "controller", {"base_images_names": ["python", "postgres"]}, "base_images_names"),
    ("base_images", "controller", {"base_images_source": "local", "base_images_tag": "bad tag"}, "base_images_tag"),
    ("stack", "node1", {"stack_stage": "turbo"}, "stack_stage"),
    ("stack", "node1", {"stack_publish_mode": "mesh"}, "stack_publish_mode"),
    ("stack", "node1", {"stack_api_replicas": 0, "stack_images": {"api": "a", "reverse": "b", "db": "c", "front": "d"}},
     "stack_api_replicas"),
    ("daemon", "controller", {"daemon_name": "x", "daemon_state": "restarted"}, "daemon_state"),
    ("stack", "node1", {"stack_cdn_port": 0}, "stack_cdn_port"),
    ("stack", "node1", {"stack_cdn_host": "cdn host"}, "stack_cdn_host"),
    ("dns_server", "node1", {"dns_server_address": "node1"}, "dns_server_address"),
    ("dns_server", "node1", {"dns_server_zone": "Bad Zone"}, "dns_server_zone"),
    ("dns_server", "node1", {"dns_server_initial_records": [{"name": "www", "type": "AAAAA", "value": "x"}]},
     "dns_server_initial_records"),
    ("cdn", "node1", {"cdn_provider": "akamai"}, "cdn_provider"),
    ("cdn", "node1", {"cdn_provider": "gcore", "cdn_gcore_origin": "shop.example"}, "cdn_gcore_api_key"),
    ("cdn", "node1", {"cdn_uncached_paths": ["/api; return 200"]}, "cdn_uncached_paths"),
    ("measure", "controller", {"measure_stage": "turbo", **MEASURE_REQUIRED}, "measure_stage"),
    ("measure", "controller", {"measure_stage": "initial", "measure_repetitions": 0, **MEASURE_REQUIRED}, "measure_repetitions"),
    ("stack", "node1", {"stack_stop_grace_period": "thirty seconds"}, "stack_stop_grace_period"),
    ("stack", "node1", {"stack_redis_password": "too short", "stack_stage": "redis"}, "stack_redis_password"),
    ("stack", "node1", {"stack_update_delay": "10"}, "stack_update_delay"),
    ("measure", "controller", {"measure_stage": "initial", "measure_resolve": "shop:80:127.0.0.1", **MEASURE_REQUIRED}, "measure_resolve"),
    ("measure", "controller", {"measure_stage": "initial", "measure_site_url": "ftp://shop/", **MEASURE_REQUIRED}, "measure_site_url"),
    # bind_zone's records are checked by the zone_records module in the preflight, whatever the method.
    ("bind_zone", "controller",
     {"bind_zone_records": [{"name": "cdn", "type": "CNAME", "value": "edge woodytoys.lab."}],
      "bind_zone_origin": "woodytoys.lab", "bind_zone_method": "nsupdate",
      "bind_zone_tsig_key_name": "ddns", "bind_zone_tsig_key_secret": "c2VjcmV0"},
     "records[0] (cdn CNAME edge woodytoys.lab.): CNAME target"),
    ("bind_zone", "controller",
     {"bind_zone_records": [{"name": "@", "type": "CNAME", "value": "edge.example.net."}],
      "bind_zone_origin": "woodytoys.lab", "bind_zone_file": "/nonexistent/db.woodytoys.lab"},
     "records[0] (@ CNAME edge.example.net.): a CNAME cannot sit at the zone apex"),
    ("bind_zone", "controller",
     {"bind_zone_records": [{"name": "www", "type": "A", "value": "192.0.2.1", "ttl": 2**31}],
      "bind_zone_origin": "woodytoys.lab", "bind_zone_file": "/nonexistent/db.woodytoys.lab"},
     "records[0] (www A 192.0.2.1): ttl must be a number of seconds"),
    ("bind_zone", "controller",
     {"bind_zone_records": [], "bind_zone_origin": "woodytoys.lab", "bind_zone_file": "/nonexistent/db.woodytoys.lab"},
     "bind_zone_records is empty"),
    ("cdn", "node1", {"cdn_gcore_purge_by": "files"}, "cdn_gcore_purge_by"),
    ("cdn", "node1", {"cdn_front_changed": "maybe"}, "cdn_front_changed"),
]


def _run_role(tmp_path: Path, role: str, hosts: str, extra: dict[str, object]) -> PlayRun:
    playbook = tmp_path / "play.yml"
    playbook.write_text(textwrap.dedent(f"""\
        - name: Apply {role} with bad input
          hosts: {hosts}
          gather_facts: false
          roles:
            - role: {role}
        """))
    return run_playbook(playbook, extra, timeout=300)


@pytest.mark.parametrize(("role", "hosts", "extra", "variable"), CASES,
                         ids=[f"{c[0]}-{next(iter(c[2]))}" for c in CASES])
def test_bad_value_is_refused_before_any_change(tmp_path, role, hosts, extra, variable):
    result = _run_role(tmp_path, role, hosts, extra)
    assert result.returncode != 0, result.output[-2000:]
    stats = result.report["stats"]
    assert all(host["changed"] == 0 for host in stats.values()), stats
    failures = result.failures()
    assert failures, "the play failed without a failed task"
    name, messages = failures[0]
    assert name.startswith(("Validating arguments", "Validate", "Check that every login", "Check that every registry user")), failures
    assert any(variable in message for message in messages), failures
