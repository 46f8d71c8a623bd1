"""image_digests: references pinned to their registry digests, the engine's errors named."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from library_module import load, run  # noqa: E402

image_digests = load("image_digests")
DIGEST = "sha256:" + "ab" * 32


def test_a_tag_gets_the_digest_and_a_pinned_reference_is_kept() -> None:
    asked: list[str] = []

    def digest_of(reference: str) -> str:
        asked.append(reference)
        return DIGEST

    assert image_digests.pinned("reg:5000/woody/api:ctx-1", digest_of) == f"reg:5000/woody/api:ctx-1@{DIGEST}"
    assert image_digests.pinned(f"redis:7@{DIGEST}", digest_of) == f"redis:7@{DIGEST}"
    assert asked == ["reg:5000/woody/api:ctx-1"]  # no lookup for the one already pinned


def test_an_unreachable_engine_fails_naming_the_docker_host(tmp_path) -> None:
    socket = f"unix://{tmp_path}/no-such-docker.sock"
    code, result = run(image_digests, {"docker_host": socket, "images": {"api": "reg:5000/woody/api:ctx-1"}})
    assert code == 1
    assert result["msg"].startswith(f"image_digests: cannot reach the Docker engine at {socket}: ")


def test_an_empty_reference_is_refused_before_any_lookup() -> None:
    code, result = run(image_digests, {"docker_host": "unix:///nonexistent.sock", "images": {"api": ""}})
    assert code == 1 and "every image must be a reference string" in result["msg"]
