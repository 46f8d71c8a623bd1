"""A student's fork of the course's app, made the way the lab sheet says (tests/fixtures/lab_sheet_fork)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "lab_sheet_fork"
# The lab's CDN edge (inventory/local: stack_cdn_host, stack_cdn_port), where a student on the lab
# points the picture as the lab sheet says ("Remplacer /5mo.jpg par https://cdn.<domain>/5mo.jpg").
CDN_PICTURE = "http://cdn.woodytoys.lab:8081/5mo.jpg"
# Sections 5.1 and 6.3: the redis and cdn stages build the api and the front from the copies.
VARIANTS = {
    "redis": {"api": {"context": "api-redis", "tag": "redis"}},
    "cdn": {"api": {"context": "api-redis", "tag": "redis"}, "front": {"context": "front-cdn", "tag": "cdn"}},
}


def git(*argv: str, cwd: Path) -> str:
    return subprocess.run(["git", "-c", "user.email=t@t", "-c", "user.name=t", *argv], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout


def make_fork(work: Path, picture_bytes: int = 200_000) -> Path:
    """The course's services under work/services, then the lab sheet's sections 5.1 and 6.3:
    api-redis/ a copy of services/api with the lab sheet's redis_wrapper.py and main.py, front-cdn/
    a copy of services/front whose picture comes from the CDN host; committed as a git repository.
    The picture is smaller than the course's 5 MB (200 kB: 0.7 s through its proxy's 300 kB/s)."""
    shutil.copytree(FIXTURE / "services", work / "services")
    (work / "services" / "front" / "5mo.jpg").write_bytes(b"\xff\xd8" + b"\0" * picture_bytes + b"\xff\xd9")
    shutil.copytree(work / "services" / "api", work / "api-redis")
    for name in ("redis_wrapper.py", "main.py"):
        shutil.copy(FIXTURE / "lab_sheet" / name, work / "api-redis" / name)
    shutil.copytree(work / "services" / "front", work / "front-cdn")
    page = work / "front-cdn" / "index.html"
    page.write_text(page.read_text().replace('src="/5mo.jpg"', f'src="{CDN_PICTURE}"'))
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-qm", "the lab sheet's fork", cwd=work)
    return work
