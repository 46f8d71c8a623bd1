"""The daemon role starts what it is told, and stops only the process its pidfile names."""

testinfra_hosts = ["localhost"]


def _pid(host, name: str) -> int:
    return int(host.file(f"/run/woodyswarm-test/{name}.pid").content_string.strip())


def test_started_process_runs_the_command(host):
    pid = _pid(host, "keeper")
    assert host.file(f"/proc/{pid}/cmdline").content_string.split("\0")[:2] == ["/usr/bin/sleep", "3602"]


def test_started_process_is_detached_from_the_play(host):
    pid = _pid(host, "keeper")
    # Fields after the command name: state ppid pgrp session tty_nr ...
    fields = host.file(f"/proc/{pid}/stat").content_string.rsplit(")", 1)[1].split()
    own_session = host.run("ps -o sid= -p $$").stdout.strip()
    assert fields[3] != own_session
    assert fields[4] == "0"  # no controlling terminal


def test_log_file_exists(host):
    assert host.file("/run/woodyswarm-test/keeper.log").is_file


def test_stopped_process_is_gone_and_its_pidfile_removed(host):
    assert not host.file("/run/woodyswarm-test/victim.pid").exists
    assert not host.run("pgrep -xf '/usr/bin/sleep 3600'").stdout.strip()


def test_bystander_with_same_binary_survives(host):
    pid = _pid(host, "bystander")
    assert host.file(f"/proc/{pid}").exists
