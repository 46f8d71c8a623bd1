"""The api's own database user on the deployed stack: it may run the api's statements and
nothing else, root logs in only from inside the database's container, and a rotation of both
passwords (the lab's store changed, then a deploy) takes effect in the running database without
failing a request."""
from __future__ import annotations

import re
import secrets
import string
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from ansible_run import run_playbook  # noqa: E402
from lab_swarm import container_of, running_tasks, service  # noqa: E402
from site_probe import SiteProbe  # noqa: E402

testinfra_hosts = ["localhost"]
CONVERGE = Path(__file__).resolve().parents[1] / "converge.yml"
STORE = Path("/var/lib/woodyswarm/secrets")
# Uncached and written: every probe request needs the api's database login.
PROBE = "/api/products?product=rotation-probe"


def stored(name: str) -> str:
    return (STORE / name).read_text().split()[0]


def api_login() -> str:
    env = service("api").attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    (user,) = [e.split("=", 1)[1] for e in env if e.startswith("DB_USER=")]
    return user


def sql(user: str, password: str, statement: str, tcp: bool = True) -> tuple[int, str]:
    """Run a statement with the MariaDB client inside the database's task; the password goes
    through the exec's environment, never its command line."""
    db = container_of(running_tasks("db")[0])
    argv = ["mariadb", "-u", user, "-N", "-B", "-e", statement] + (["-h", "127.0.0.1"] if tcp else [])
    code, output = db.exec_run(argv, environment={"MYSQL_PWD": password})
    return code, output.decode()


def test_the_api_logs_in_as_its_own_user_and_never_holds_roots_password():
    assert re.fullmatch(r"woody_api_v[0-9]+", api_login())
    secrets = {s["SecretName"] for s in service("api").attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Secrets"]}
    assert not any("db_root_password" in name for name in secrets), secrets
    code, output = sql("root", stored("db_root_password"), "SELECT CONCAT(user, '@', host) FROM mysql.user "
                       "WHERE user = 'root' OR user LIKE 'woody\\_api%' ORDER BY 1", tcp=False)
    assert (code, sorted(output.split())) == (0, sorted([f"{api_login()}@%", "root@localhost"]))


def test_the_api_user_runs_the_api_statements_and_nothing_else():
    user, password = api_login(), stored("db_app_password")
    allowed = ["SELECT COUNT(*) FROM woody.product", "SELECT COUNT(*) FROM woody.`order`",
               "LOCK TABLES woody.product READ; UNLOCK TABLES"]
    for statement in allowed:
        code, output = sql(user, password, statement)
        assert code == 0, f"{statement}: {output}"
    refused = ["DELETE FROM woody.product", "DROP TABLE woody.product", "UPDATE woody.product SET name = 'x'",
               "DELETE FROM woody.`order`", "SELECT * FROM mysql.user", "CREATE DATABASE woody_evil",
               "CREATE TABLE woody.evil (id INT)", "SELECT * FROM woodyswarm.applied",
               f"GRANT SELECT ON woody.* TO '{user}'@'%'", "SET GLOBAL max_connections = 1000"]
    for statement in refused:
        code, output = sql(user, password, statement)
        assert code != 0 and re.search(r"ERROR (1142|1044|1227|1045|1143)", output), f"{statement}: {output}"


def test_root_cannot_log_in_from_the_network():
    code, output = sql("root", stored("db_root_password"), "SELECT 1")  # over TCP, not the socket
    assert code != 0 and "ERROR 1045" in output, output
    assert sql("root", stored("db_root_password"), "SELECT 1", tcp=False)[0] == 0  # control


def test_rotating_both_passwords_applies_them_without_failing_a_request():
    """Nothing fails: while the database restarts with its new secrets, writes are refused
    with 503 + Retry-After (the database is down, issue 24), and every other answer is right."""
    old_root, old_app, old_login = stored("db_root_password"), stored("db_app_password"), api_login()
    version = int(old_login.rsplit("_v", 1)[1])
    probe = SiteProbe([PROBE], period=0.5, timeout=60, expect={PROBE: b"rotation-probe"})
    # What a user of the lab does: new passwords in the store (a vault on a real cluster), deploy.
    for name in ("db_root_password", "db_app_password"):
        (STORE / name).write_text("".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24)))
    assert (stored("db_root_password"), stored("db_app_password")) != (old_root, old_app)
    probe.start()
    run = run_playbook(CONVERGE, {"woody_test_stage": "cdn"}, timeout=900)
    answers = probe.finish()
    assert run.returncode == 0, run.failure_messages() or run.output[-3000:]
    # The database restarts for its new secrets: while it is down, a write is refused at once
    # with 503 + Retry-After (issue 24), never failed otherwise (no login error, no 502).
    refused = [a for a in probe.failures() if a.status == 503 and a.retry_after]
    failed = [a for a in probe.failures() if a not in refused]
    window = (refused[-1].at - refused[0].at) if refused else 0.0
    print(f"rotation: {len(answers)} probe requests during the deploy, {len(refused)} refused 503 + Retry-After "
          f"while the database restarted (over {window:.1f} s), {len(failed)} failed")
    assert len(answers) > 10 and failed == []
    assert window <= 30, refused
    assert api_login() == f"woody_api_v{version + 1}"
    assert sql(api_login(), stored("db_app_password"), "SELECT 1")[0] == 0
    assert "ERROR 1045" in sql(old_login, old_app, "SELECT 1")[1]  # the old login is gone
    assert sql("root", stored("db_root_password"), "SELECT 1", tcp=False)[0] == 0
    assert "ERROR 1045" in sql("root", old_root, "SELECT 1", tcp=False)[1]
    again = run_playbook(CONVERGE, {"woody_test_stage": "cdn"}, timeout=900)
    assert again.returncode == 0
    assert all(host["changed"] == 0 for host in again.report["stats"].values()), again.report["stats"]
