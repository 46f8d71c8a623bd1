"""Hostile product and order strings, sent through the site's published port, are stored and
answered literally by the deployed stack (api, reverse proxy, MariaDB on the manager)."""
from __future__ import annotations

import sys
import urllib.request
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from lab_swarm import manager, running_tasks  # noqa: E402
from site_probe import SITE  # noqa: E402

testinfra_hosts = ["localhost"]
HOSTILE = [
    "x'); DROP TABLE product; --",
    "Robert\"); DELETE FROM `order`; -- \\' \\\\",
    "<script>alert('woody')</script>&amp;",
    "Jouet en bois \u2013 \u73a9\u5177 \U0001f9f8 ${jndi:ldap://x} %s %n {{7*7}}",
]


def get(path: str) -> str:
    with urllib.request.urlopen(SITE + path, timeout=60) as answer:
        assert answer.status == 200
        return answer.read().decode()


def database(sql: str) -> list[str]:
    """Rows of a query run by the MariaDB client inside the running database task."""
    task = running_tasks("db")[0]
    container = manager().containers.get(task["Status"]["ContainerStatus"]["ContainerID"])
    command = f'MYSQL_PWD="$(cat /run/secrets/db_root_password)" mariadb -uroot -N -B woody -e "{sql}"'
    code, output = container.exec_run(["sh", "-c", command])
    assert code == 0, output.decode()
    return output.decode().splitlines()


def test_hostile_products_are_stored_and_answered_literally():
    for name in HOSTILE:
        assert get(f"/api/products?product={quote(name, safe='')}") == name
        assert get("/api/products/last").endswith(f"(last={name})")
        stored = database("SELECT HEX(name) FROM product ORDER BY id DESC LIMIT 1")
        assert bytes.fromhex(stored[0]).decode() == name
    assert database("SELECT COUNT(*) FROM product WHERE name IN ('Yoyo', 'Joli train')") == ["2"]


def test_hostile_orders_are_stored_and_answered_literally():
    # One after the other: the database accepts one connection (the lab's bottleneck).
    for name in HOSTILE:
        answer = get(f"/api/orders/do?order={quote(name, safe='')}")
        assert answer.startswith(f"Your order of {name} is validated, its id is ")
        order_id = answer.rsplit(" ", 1)[1]
        assert get(f"/api/orders/?order_id={order_id}") == "validated"
        stored = database(f"SELECT HEX(product) FROM \\`order\\` WHERE order_id = '{order_id}'")
        assert bytes.fromhex(stored[0]).decode() == name
