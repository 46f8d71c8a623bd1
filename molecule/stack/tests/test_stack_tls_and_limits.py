"""The deployed stack faces the internet: HTTPS with the certificate the lab's authority signed
(key and certificate as Docker secrets only), plain HTTP still served for the lab sheet's
measurements, per-client limits that refuse a flood with 429 + Retry-After and let the same
client in again by themselves, and a registry that speaks HTTPS only."""
from __future__ import annotations

import ssl
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from lab_registry import LAB_CA, REGISTRY  # noqa: E402
from lab_swarm import manager, service, wait_for  # noqa: E402

testinfra_hosts = ["localhost"]
SITE = "http://127.0.0.1:8080"
NODES = ["10.213.0.11", "10.213.0.12", "10.213.0.13"]
SITE_KEY = Path("/var/lib/woodyswarm/lab/ca/site.key")


def fetch(url: str, context: ssl.SSLContext | None = None) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=20, context=context) as answer:
            answer.read()
            return answer.status, dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def lab_trust() -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=LAB_CA)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def test_every_node_serves_https_with_the_labs_certificate_and_plain_http_still():
    for node in NODES:
        status, headers = fetch(f"https://{node}/api/ping", lab_trust())
        assert status == 200 and "Strict-Transport-Security" not in headers, node
        assert fetch(f"http://{node}/api/ping")[0] == 200, node  # no redirect unless asked
    # Without the lab's authority the certificate is refused: it is not a self-signed stand-in
    # the client would accept anyway.
    try:
        fetch(f"https://{NODES[0]}/api/ping", ssl.create_default_context())
        raise AssertionError("an unknown authority was trusted")
    except urllib.error.URLError as error:
        assert isinstance(error.reason, ssl.SSLCertVerificationError), error


def test_the_sites_key_reaches_the_proxy_as_a_secret_only():
    key = SITE_KEY.read_text()
    body = "".join(line for line in key.splitlines() if "-----" not in line)
    spec = str(service("reverse").attrs)
    assert body not in spec and "PRIVATE KEY" not in spec
    secrets = {s["SecretName"]: s["File"]["Name"]
               for s in service("reverse").attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"]}
    assert sorted(secrets.values()) == ["redis_password", "tls.crt", "tls.key"], secrets
    rendered = Path("/var/lib/woodylab/node1/woodyswarm/stacks/stack_redis_cdn.yml").read_text()
    assert body not in rendered and "tls_key" in rendered


def test_a_flood_from_one_client_is_refused_with_retry_after_then_let_in_again():
    env = service("reverse").attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    assert "RP_CLIENT_RATE=50" in env and "RP_CLIENT_BURST=200" in env  # the defaults, host-mode ports

    def one(_: int) -> tuple[int, str]:
        status, headers = fetch(f"{SITE}/api/ping")
        return status, headers.get("Retry-After", "")

    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(one, range(800)))
    refused = [a for a in answers if a[0] == 429]
    print(f"flood: {len(answers)} requests, {answers.count((200, ''))} served, {len(refused)} refused with 429")
    assert answers.count((200, "")) >= 200  # the burst, at least, is served
    assert refused and all(retry == "1" for _, retry in refused)
    assert {status for status, _ in answers} <= {200, 429}  # nothing else, no 5xx
    wait_for("the flooding client to be served again", lambda: fetch(f"{SITE}/api/ping")[0] == 200, timeout=10)


def test_the_registry_speaks_https_only():
    status, _ = fetch(f"http://{REGISTRY}/v2/")
    assert status == 400  # "Client sent an HTTP request to an HTTPS server"
    assert fetch(f"https://{REGISTRY}/v2/", lab_trust())[0] == 401  # up, and asks for its user
    info = manager().info()["RegistryConfig"]
    assert REGISTRY not in info["IndexConfigs"] or info["IndexConfigs"][REGISTRY]["Secure"]
