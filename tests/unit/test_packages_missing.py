"""packages_missing reads dpkg's status: installed names drop out, unknown or removed ones stay."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from library_module import load  # noqa: E402

packages_missing = load("packages_missing")


def test_only_fully_installed_packages_count() -> None:
    output = "dpkg\tii \nbind9\trc \nlibc6:amd64\tii \nhalf\tiU \n"
    assert packages_missing.installed_from(output) == {"dpkg", "libc6"}


def test_the_format_matches_what_dpkg_query_prints_here() -> None:
    names = ["dpkg", "woodyswarm-no-such-package"]
    done = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\n", "--", *names],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1  # the unknown name
    assert packages_missing.installed_from(done.stdout) == {"dpkg"}
