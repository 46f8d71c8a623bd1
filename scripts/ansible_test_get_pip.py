"""Stand-in for the get-pip script that ansible-test downloads from ci-files.testing.ansible.com
to put pip into each sanity test's new, empty virtual environment. CI reaches PyPI only, so
scripts/bootstrap copies this file where ansible-test looks for its cached copy
(~/.ansible/test/cache/get_pip_<version>.py).

It takes get-pip's arguments (pip options, the pinned `pip==<version>`, --no-setuptools,
--no-wheel): the standard library's ensurepip starts a pip, which then installs the exact pip
ansible-test asked for from PyPI, as get-pip would have.
"""
from __future__ import annotations

import subprocess
import sys

LEAVE_OUT = {"--no-setuptools": "setuptools", "--no-wheel": "wheel"}


def main() -> int:
    # In a process of its own: ensurepip turns pip's configuration (certificates, indexes) off in
    # the environment of the process that runs it.
    started = subprocess.run([sys.executable, "-m", "ensurepip"], capture_output=True, text=True, check=False)
    if started.returncode != 0:
        print(started.stdout + started.stderr, file=sys.stderr)
        return started.returncode
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    args = [arg for arg in sys.argv[1:] if arg not in LEAVE_OUT]
    done = subprocess.run([*pip, "install", "--upgrade", "--force-reinstall", *args], check=False)
    if done.returncode != 0:
        return done.returncode
    # ensurepip may bring setuptools: get-pip with --no-setuptools installs none.
    unwanted = [LEAVE_OUT[arg] for arg in sys.argv[1:] if arg in LEAVE_OUT]
    if unwanted:
        subprocess.run([*pip, "uninstall", "--yes", *unwanted], capture_output=True, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
