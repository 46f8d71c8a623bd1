"""A broken api image rolls back by itself; the play fails with the cause; the site keeps
answering /api/ping all along."""
from __future__ import annotations

import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from ansible_run import run_playbook  # noqa: E402
from lab_swarm import service  # noqa: E402
from site_probe import SiteProbe  # noqa: E402

testinfra_hosts = ["localhost"]
CONVERGE = Path(__file__).resolve().parents[1] / "converge.yml"


def test_broken_api_rolls_back_and_the_site_stays_up():
    api = service("api")
    good_image = api.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    # The reverse proxy's image has no Python: the api health check can never pass.
    broken = service("reverse").attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    probe = SiteProbe(["/api/ping"], expect={"/api/ping": b"ping"})
    probe.start()
    run = run_playbook(CONVERGE, {"woody_test_stage": "cdn",
                                  "stack_image_overrides": {"api": broken.split("@")[0]}}, timeout=900)
    answers = probe.finish()
    assert run.returncode != 0
    assert any("rolled back" in message for message in run.failure_messages()), run.failure_messages()
    api.reload()
    assert api.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == good_image
    print(f"broken api rolled back: {len(answers)} probe requests, {len(probe.failures())} failed")
    assert len(answers) > 20
    assert probe.failures() == []
