"""Images: all four pushed with three tags; nodes pull them; a git source rebuilds only what
changed; a broken build pushes nothing and names the service."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import docker
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from ansible_run import ROOT, run_playbook  # noqa: E402
from lab_registry import REGISTRY, call, get  # noqa: E402
from lab_sheet_fork import CDN_PICTURE, VARIANTS, git, make_fork  # noqa: E402

testinfra_hosts = ["localhost"]
STAGES = ["initial", "replicas", "redis", "cdn"]
IMAGES = {"api": "woody_api", "reverse": "woody_rp", "db": "woody_database", "front": "woody_front"}


def registry_tags(namespace: str, image: str) -> set[str]:
    status, body = get(f"/v2/{namespace}/{image}/tags/list")
    if status == 404:
        return set()
    assert status == 200, (status, body[:200])
    return set(json.loads(body).get("tags") or [])


@pytest.mark.parametrize("image", IMAGES.values())
def test_each_image_has_content_version_and_latest_tags(image):
    tags = registry_tags("woody", image)
    assert {"1.0", "latest"} <= tags
    assert any(tag.startswith("ctx-") for tag in tags)


@pytest.mark.parametrize("node", ["node1", "node2", "node3"])
def test_every_node_pulls_the_content_tags(node):
    engine = docker.DockerClient(base_url=f"unix:///run/woodylab/{node}.sock")
    controller = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    for image in IMAGES.values():
        local = controller.images.get(f"{REGISTRY}/woody/{image}:latest")
        # The build engine may keep older content tags on the same image (a rebuild that changed
        # nothing in the image): pull those the registry has, which include the current one.
        repository = f"{REGISTRY}/woody/{image}"
        pushed = registry_tags("woody", image)
        content_tags = [t for t in local.tags
                        if t.startswith(f"{repository}:ctx-") and t.rsplit(":", 1)[1] in pushed]
        assert content_tags, (image, local.tags, sorted(pushed))
        for tag in [*content_tags, f"{repository}:latest"]:
            assert engine.images.pull(tag).id == local.id, tag


# --- the git source, in a bare repository made here ------------------------------------------------

PLAY = textwrap.dedent("""\
    - name: Build from git
      hosts: controller
      gather_facts: false
      roles:
        - role: images
      post_tasks:
        - name: Show the images of each stage
          ansible.builtin.debug:
            var: images_deployed
""")


def deployed(run) -> dict[str, dict[str, str]]:
    """The images role's images_deployed (per stage, each service's image) in a run's report."""
    for play in run.report["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"] == "Show the images of each stage":
                return task["hosts"]["localhost"]["images_deployed"]
    raise AssertionError("the run did not show images_deployed")


def copy_of_our_shop(work: Path) -> Path:
    """A repository laid out as the course's, holding our shop: services/<service>/."""
    (work / "services").mkdir(parents=True)
    subprocess.run(["cp", "-r", *map(str, (ROOT / "files" / "services").iterdir()), str(work / "services")], check=True)
    subprocess.run(["rm", "-rf", *map(str, (work / "services").glob("*/wheels"))], check=True)
    return work


def commit_all(work: Path, message: str) -> None:
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-qm", message, cwd=work)


@pytest.fixture(scope="module")
def git_source(tmp_path_factory):
    """A repository laid out as the course's: the services' folders under services/."""
    base = tmp_path_factory.mktemp("gitsrc")
    work = copy_of_our_shop(base / "work")
    commit_all(work, "source")
    git("clone", "-q", "--bare", str(work), str(base / "shop.git"), cwd=base)
    git("remote", "add", "bare", str(base / "shop.git"), cwd=work)
    playbook = base / "play.yml"
    playbook.write_text(PLAY)
    settings = {"images_source": "git", "images_git_repo": f"file://{base / 'shop.git'}",
                "images_namespace": "woodygit", "images_build_dir": str(base / "build"),
                "images_build_args": {"front": {"JPEG_BYTES": "200000"}}}
    return work, playbook, settings


def commit_and_push(work: Path, message: str, branch: str = "main") -> None:
    git("commit", "-qam", message, cwd=work)
    git("push", "-q", "bare", f"HEAD:{branch}", cwd=work)


def test_git_source_builds_and_pushes_all_four(git_source):
    _, playbook, settings = git_source
    run = run_playbook(playbook, settings)
    assert run.returncode == 0, run.failure_messages() or run.output[-3000:]
    for image in IMAGES.values():
        assert {"1.0", "latest"} <= registry_tags("woodygit", image)


def test_git_source_rerun_changes_nothing(git_source):
    _, playbook, settings = git_source
    run = run_playbook(playbook, settings)
    assert run.returncode == 0
    assert all(host["changed"] == 0 for host in run.report["stats"].values()), run.report["stats"]


def test_a_tag_deleted_from_the_registry_is_pushed_again_alone(git_source):
    _, playbook, settings = git_source
    # The registry forgets one tag (as a registry restored from an older backup would): its
    # storage keeps a folder per tag; the blobs and the other tags stay.
    tag_dir = Path(f"/var/lib/woodylab/registry/docker/registry/v2/repositories/woodygit/{IMAGES['db']}/_manifests/tags/1.0")
    assert tag_dir.is_dir()
    subprocess.run(["rm", "-rf", str(tag_dir)], check=True)
    assert "1.0" not in registry_tags("woodygit", IMAGES["db"])
    run = run_playbook(playbook, settings)
    assert run.returncode == 0, run.failure_messages()
    pushed = run.changed_items("Push each tag the registry lacks or holds for another image")
    assert pushed == [{"name": "db", "repository": f"{REGISTRY}/woodygit/{IMAGES['db']}", "tag": "1.0"}]
    assert run.changed_items("Build each image that its content tag does not name yet") == []
    assert "1.0" in registry_tags("woodygit", IMAGES["db"])


def test_touching_one_service_rebuilds_and_pushes_that_one_only(git_source):
    work, playbook, settings = git_source
    before = {name: registry_tags("woodygit", image) for name, image in IMAGES.items()}
    with (work / "services" / "api" / "woody_api" / "__init__.py").open("a") as source:
        # Unique content: the registry and the controller's engine outlive a test run, and a
        # content tag seen before would (rightly) not be rebuilt.
        source.write(f"# touched by the images test {uuid.uuid4()}\n")
    commit_and_push(work, "touch the api")
    run = run_playbook(playbook, settings)
    assert run.returncode == 0, run.failure_messages()
    built = run.changed_items("Build each image that its content tag does not name yet")
    tagged = run.changed_items("where the tag is missing or on an older image")
    pushed = run.changed_items("Push each tag the registry lacks or holds for another image")
    assert [service["name"] for service in built] == ["api"]
    assert sorted(t["tag"] for t in tagged if t["name"] == "api") == ["1.0", "latest"]
    assert all(t["name"] == "api" for t in tagged), tagged
    assert sorted((p["name"], p["tag"].split("-")[0]) for p in pushed) == [("api", "1.0"), ("api", "ctx"), ("api", "latest")]
    after = {name: registry_tags("woodygit", image) for name, image in IMAGES.items()}
    assert len(after["api"] - before["api"]) == 1  # one new content tag
    assert all(after[name] == before[name] for name in IMAGES if name != "api")


def test_broken_build_names_the_service_and_pushes_nothing(git_source):
    work, playbook, settings = git_source
    before = {name: registry_tags("woodygit", image) for name, image in IMAGES.items()}
    (work / "services" / "api" / "woody_api" / "__init__.py").write_text(f"# a change that would need a push {uuid.uuid4()}\n")
    dockerfile = work / "services" / "reverse-proxy" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN echo breaking the build on purpose && exit 3\n")
    commit_and_push(work, "break the reverse proxy", branch="broken")
    run = run_playbook(playbook, {**settings, "images_git_version": "broken"})
    assert run.returncode != 0
    message = " ".join(run.failure_messages())
    assert "the build of reverse failed" in message
    assert "breaking the build on purpose" in message  # the failing Dockerfile step
    after = {name: registry_tags("woodygit", image) for name, image in IMAGES.items()}
    assert after == before


def test_a_missing_folder_or_dockerfile_fails_before_anything_is_built(git_source):
    work, playbook, settings = git_source
    before = {name: registry_tags("woodygit", image) for name, image in IMAGES.items()}
    git("rm", "-q", "services/front/Dockerfile", cwd=work)
    git("commit", "-qm", "no front Dockerfile", cwd=work)
    git("push", "-q", "bare", "HEAD:no-dockerfile", cwd=work)
    git("reset", "-q", "--hard", "HEAD~1", cwd=work)
    run = run_playbook(playbook, {**settings, "images_git_version": "no-dockerfile"})
    assert run.returncode != 0
    message = " ".join(run.failure_messages())
    assert "service front has no Dockerfile at " in message and "/source/services/front/Dockerfile" in message, message
    assert run.changed_items("Build each image that its content tag does not name yet") == []
    missing = run_playbook(playbook, {**settings, "images_git_subdir": "services"})
    assert missing.returncode != 0
    assert "service api has no folder at " in " ".join(missing.failure_messages())
    assert {name: registry_tags("woodygit", image) for name, image in IMAGES.items()} == before


def test_a_run_writes_nothing_into_the_roles_or_the_source(git_source):
    """The source is only read and the roles hold no shop: wheels and contexts are staged in
    the work folder (images_build_dir), never beside the Dockerfiles."""
    _, playbook, settings = git_source
    assert run_playbook(playbook, settings).returncode == 0
    status = subprocess.run(["git", "status", "--porcelain", "--ignored", "--", "roles"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    # New files only (untracked ?? or ignored !!): edits of tracked files are the developer's.
    written = [line for line in status.splitlines() if line.startswith(("??", "!!"))]
    assert written == [], written
    checkout = Path(settings["images_build_dir"]) / "source"
    dirty = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=checkout,
                           check=True, capture_output=True, text=True).stdout
    assert dirty == "", dirty
    staged = sorted(p.name.split("-ctx-")[0] for p in (Path(settings["images_build_dir"]) / "contexts").iterdir())
    assert {"api", "db", "front", "reverse"} <= set(staged)
    assert any((p / "wheels" / ".woodyswarm-downloaded").is_file()
               for p in (Path(settings["images_build_dir"]) / "contexts").glob("api-ctx-*"))


# --- the course's own Dockerfiles, unmodified (tests/fixtures/lab_sheet_fork) -----------------------

@pytest.fixture(scope="module")
def course_fork(tmp_path_factory):
    base = tmp_path_factory.mktemp("course")
    work = make_fork(base / "work")
    playbook = base / "play.yml"
    playbook.write_text(PLAY)
    settings = {"images_source": "git", "images_git_repo": f"file://{work}", "images_namespace": "woodycourse",
                "images_build_dir": str(base / "build"), "woody_app_contract": "lab_sheet"}
    return work, playbook, settings


def test_the_course_dockerfiles_build_offline_unmodified(course_fork):
    _, playbook, settings = course_fork
    run = run_playbook(playbook, settings)
    assert run.returncode == 0, run.failure_messages() or run.output[-3000:]
    images = deployed(run)
    assert sorted(images) == sorted(STAGES)
    # Each stage runs its own folders' builds (api-redis from the redis stage on, front-cdn at cdn).
    api = [images[stage]["api"] for stage in STAGES]
    front = [images[stage]["front"] for stage in STAGES]
    assert api[0] == api[1] != api[2] == api[3], api
    assert front[0] == front[1] == front[2] != front[3], front
    assert len({images[stage]["db"] for stage in STAGES}) == 1
    # The variants have tags of their own; the version and latest stay the base folders'.
    assert {"1.0", "latest", "redis", "1.0-redis"} <= registry_tags("woodycourse", "woody_api")
    assert {"1.0", "latest", "cdn", "1.0-cdn"} <= registry_tags("woodycourse", "woody_front")
    assert registry_digest("woodycourse", "woody_api", "redis") == registry_digest("woodycourse", "woody_api", "1.0-redis")
    assert registry_digest("woodycourse", "woody_api", "redis") != registry_digest("woodycourse", "woody_api", "latest")
    assert registry_digest("woodycourse", "woody_front", "cdn") != registry_digest("woodycourse", "woody_front", "1.0")
    controller = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    assert controller.images.get(api[2]).id == controller.images.get(f"{REGISTRY}/woodycourse/woody_api:redis").id
    # pip install -r requirements.txt ran at build time, from the controller's wheels; curl is
    # there for the lab sheet's health check, as in the official python image.
    for stage in ("initial", "redis"):
        out = controller.containers.run(images[stage]["api"], ["sh", "-c", "python -c 'import flask, flask_cors, mysql.connector, redis' && curl --version"],
                                        remove=True, network_disabled=True)
        assert b"curl " in out, (stage, out)
    listing = controller.containers.run(images["cdn"]["api"], ["ls", "/app"], remove=True, network_disabled=True).decode()
    assert "redis_wrapper.py" in listing.split()
    page = controller.containers.run(images["cdn"]["front"], ["cat", "/usr/share/nginx/html/index.html"], remove=True,
                                     network_disabled=True).decode()
    assert CDN_PICTURE in page
    # The names the Dockerfiles start from are answered on the building engine by the local bases.
    for name in ("python:3.12.3-bookworm", "mysql", "nginx:1.25.4", "nginx:alpine"):
        assert controller.images.get(name)
    assert controller.images.get("mysql").id == controller.images.get("woodylab/mariadb:bookworm").id
    again = run_playbook(playbook, settings)
    assert again.returncode == 0 and all(h["changed"] == 0 for h in again.report["stats"].values()), again.report["stats"]


def registry_digest(namespace: str, image: str, tag: str) -> str:
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    status, _, headers = call("HEAD", f"/v2/{namespace}/{image}/manifests/{tag}", headers={"Accept": accept})
    assert status == 200, (namespace, image, tag, status)
    return headers["Docker-Content-Digest"]


def test_a_variant_folder_missing_from_the_fork_fails_naming_its_stages(course_fork):
    _, playbook, settings = course_fork
    variants = {**VARIANTS, "cdn": {**VARIANTS["cdn"], "front": {"context": "front-cnd", "tag": "cdn"}}}
    run = run_playbook(playbook, {**settings, "images_stage_variants": variants})
    assert run.returncode != 0
    message = " ".join(run.failure_messages())
    assert "stage cdn: service front has no folder at " in message and message.rstrip().find("/front-cnd") > 0, message
    assert run.changed_items("Build each image that its content tag does not name yet") == []


def test_a_docker_hub_base_nothing_stands_in_for_fails_before_any_build(course_fork):
    work, playbook, settings = course_fork
    dockerfile = work / "api-redis" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("FROM python:3.12.3-bookworm", "FROM postgres:16"))
    git("commit", "-qam", "an api on postgres", cwd=work)
    run = run_playbook(playbook, settings)
    assert run.returncode != 0
    message = " ".join(run.failure_messages())
    assert "stage redis, cdn: service api starts FROM postgres:16 (" in message and "/api-redis/Dockerfile)" in message, message
    assert run.changed_items("Build each image that its content tag does not name yet") == []


# --- built on the first manager (for a user whose machine has no Docker) ---------------------------

ON_MANAGER = textwrap.dedent("""\
    - name: Build on the first manager, as deploy.yml does with images_build_on=manager
      hosts: node1
      gather_facts: false
      roles:
        - role: images
          vars:
            images_copy_context: true
            images_controller_host: localhost
            images_namespace: "{{ test_namespace }}"
            # The database's build needs no network: the lab's nodes have no route out (the
            # proxy's apt-get would need the Debian mirror, which a VPS reaches).
            images_services:
              - { name: db, image: woody_database, context: services/database, base: mariadb }
""")


def test_build_on_the_manager_copies_the_context_and_tags_as_the_controller(tmp_path):
    playbook = tmp_path / "on_manager.yml"
    playbook.write_text(ON_MANAGER)
    namespace = f"onmanager{uuid.uuid4().hex[:8]}"
    run = run_playbook(playbook, {"test_namespace": namespace})
    assert run.returncode == 0, run.failure_messages()
    # The same content tag the controller's build gave the database: same context, same base.
    controller = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    controller_tags = {t.rsplit(":", 1)[1] for t in controller.images.get(f"{REGISTRY}/woody/woody_database:latest").tags
                       if ":ctx-" in t}
    pushed = registry_tags(namespace, "woody_database")
    assert {"1.0", "latest"} <= pushed
    content = {t for t in pushed if t.startswith("ctx-")}
    assert len(content) == 1 and content <= controller_tags, (pushed, controller_tags)
    # Built by node1's engine, from a copy of the context on node1 that the controller does not have.
    node1 = docker.DockerClient(base_url="unix:///run/woodylab/node1.sock")
    assert node1.images.get(f"{REGISTRY}/{namespace}/woody_database:{content.pop()}")
    copied = Path("/var/lib/woodylab/node1/woodyswarm/build/contexts")
    assert any(p.name.startswith("db-ctx-") and (p / "Dockerfile").is_file() for p in copied.iterdir())
    assert not Path("/var/lib/woodyswarm/build/contexts").exists()
    again = run_playbook(playbook, {"test_namespace": namespace})
    assert again.returncode == 0 and all(h["changed"] == 0 for h in again.report["stats"].values()), again.report["stats"]
