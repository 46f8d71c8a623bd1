"""The lab's nodes as a user reaches them: root over SSH with the lab's key, host keys pinned."""
from __future__ import annotations

import subprocess

SSH_DIR = "/var/lib/woodyswarm/lab/ssh"
NODES = {"node1": "10.213.0.11", "node2": "10.213.0.12", "node3": "10.213.0.13"}


def ssh(node: str, command: str, timeout: float = 60,
        known_hosts: str = f"{SSH_DIR}/known_hosts") -> subprocess.CompletedProcess[str]:
    """Runs command on the node over SSH, host key checking on, and returns what it did."""
    return subprocess.run(
        ["ssh", "-i", f"{SSH_DIR}/id_ed25519", "-o", f"UserKnownHostsFile={known_hosts}",
         "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
         f"root@{NODES[node]}", command],
        capture_output=True, text=True, timeout=timeout, check=False)
