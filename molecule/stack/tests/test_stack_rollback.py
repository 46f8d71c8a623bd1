"""A broken api image rolls back by itself; the play fails with the cause; the site keeps
answering /api/ping all along."""
from __future__ import annotations

import sys
import threading
import time
import urllib.request
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from ansible_run import run_playbook  # noqa: E402

testinfra_hosts = ["localhost"]
CONVERGE = Path(__file__).resolve().parents[1] / "converge.yml"


class Probe(threading.Thread):
    """GETs /api/ping every 0.2 s until stopped, counting answers and failures."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen("http://127.0.0.1:8080/api/ping", timeout=10) as answer:
                    if answer.status == 200 and answer.read().strip() == b"ping":
                        self.ok += 1
                    else:
                        self.failures.append(f"status {answer.status}")
            except Exception as error:  # noqa: BLE001 - every failure counts
                self.failures.append(repr(error))
            time.sleep(0.2)


def test_broken_api_rolls_back_and_the_site_stays_up():
    manager = docker.DockerClient(base_url="unix:///run/woodylab/node1.sock")
    api = manager.services.get("woodytoys_api")
    good_image = api.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    # The reverse proxy's image has no Python: the api health check can never pass.
    broken = manager.services.get("woodytoys_reverse").attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    probe = Probe()
    probe.start()
    run = run_playbook(CONVERGE, {"woody_test_stage": "cdn",
                                  "stack_image_overrides": {"api": broken.split("@")[0]}}, timeout=900)
    probe.stop.set()
    probe.join()
    assert run.returncode != 0
    assert any("rolled back" in message for message in run.failure_messages()), run.failure_messages()
    api.reload()
    assert api.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == good_image
    assert probe.ok > 20
    assert probe.failures == []
