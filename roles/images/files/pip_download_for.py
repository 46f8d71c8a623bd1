"""pip download for another Python than the one running it, environment markers included.

`pip download --python-version 3.11` picks wheels for 3.11 but evaluates the requirements'
markers against the running interpreter: redis asks for async-timeout only where
python_full_version < "3.11.3", so a controller on 3.11.7 leaves out what Debian's 3.11.2 needs.
This runs pip with the markers' environment set to the target version.

    python pip_download_for.py 3.11.2 --dest DIR --requirement FILE ...  (the rest goes to pip download)
"""
from __future__ import annotations

import sys
from collections.abc import Callable


def target_environment(full_version: str, current: Callable[[], dict[str, str]]) -> Callable[[], dict[str, str]]:
    """The marker environment of ``current`` with the Python version of ``full_version``."""
    major, minor = full_version.split(".")[:2]

    def environment() -> dict[str, str]:
        return {**current(), "python_full_version": full_version, "python_version": f"{major}.{minor}",
                "implementation_version": full_version}
    return environment


def main(argv: list[str]) -> int:
    full_version, pip_arguments = argv[0], argv[1:]
    from pip._internal.cli.main import main as pip_main
    from pip._vendor.packaging import markers

    markers.default_environment = target_environment(full_version, markers.default_environment)
    major_minor = ".".join(full_version.split(".")[:2])
    return pip_main(["download", "--python-version", major_minor, *pip_arguments])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
