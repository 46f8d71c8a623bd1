#!/usr/bin/env python3
"""Benchmark (not a test): the load suite with the lab sheet's values, for longer.

    .venv/bin/python benchmarks/load.py            # deploys the cdn stage with the defaults first
    .venv/bin/python benchmarks/load.py --no-deploy  # measures what runs now

It deploys the cdn stage on the local lab with the lab sheet's values (5 s heavy computation,
15 s DB query, 5 MB picture at 300 kB/s: the roles' defaults), then runs
molecule/experiment/tests/test_load.py with longer phases (150 s of uncached heavy requests,
90 s for each other phase, 15 s bursts of hits), then test_faults.py (each service taken away
under the mix, 30 s phases), and prints every figure the suites print: requests, statuses,
p50/p95/max, tasks replaced, hits per second against the static page, p99, and each fault's
probes before, during and after it. Every request goes to the lab's site on loopback
(127.0.0.1:8080) or to the lab's CDN edge (10.213.0.12:8081).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITES = [ROOT / "molecule" / "experiment" / "tests" / name for name in ("test_load.py", "test_faults.py")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-deploy", action="store_true", help="measure the stack that runs now")
    parser.add_argument("--seconds", type=int, default=150, help="uncached heavy phase (default 150)")
    parser.add_argument("--short-seconds", type=int, default=90, help="every other phase (default 90)")
    parser.add_argument("--burst-seconds", type=int, default=15, help="each burst of hits (default 15)")
    parser.add_argument("--fault-seconds", type=int, default=30, help="each phase around a fault (default 30)")
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    if not args.no_deploy:
        started = time.monotonic()
        # The suite plays a whole class from one address, past any per-client limit: off, as
        # in CI (molecule/experiment/converge.yml).
        subprocess.run([bin_dir / "ansible-playbook", "playbooks/stage.yml", "-e", "stack_stage=cdn",
                        "-e", "stack_client_rate=0", "-e", "stack_client_connections=0"],
                       cwd=ROOT, env=env, check=True)
        print(f"cdn stage deployed with the lab sheet's values in {time.monotonic() - started:.0f} s")
    env.update(WOODY_LOAD_SECONDS=str(args.seconds), WOODY_LOAD_SHORT_SECONDS=str(args.short_seconds),
               WOODY_LOAD_BURST_SECONDS=str(args.burst_seconds), WOODY_FAULT_PHASE_SECONDS=str(args.fault_seconds),
               WOODY_FAULT_SUITE="1")
    # -s: the figures; -rA: a line per test, pass or fail (a missed goal is a figure too).
    return subprocess.run([bin_dir / "pytest", "-s", "-rA", "-p", "no:cacheprovider", *map(str, SUITES)],
                          cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
