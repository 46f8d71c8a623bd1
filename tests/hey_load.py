"""A steady load from Debian's `hey` (fixed rate, fixed duration) and what it saw (for fault tests)."""
from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass, field

STATUS_LINE = re.compile(r"^\s*\[(\d{3})\]\s+(\d+) responses\s*$")
ERROR_LINE = re.compile(r"^\s*\[(\d+)\]\s+(.+?)\s*$")
RATE_LINE = re.compile(r"^\s*Requests/sec:\s+([0-9.]+)\s*$")
SLOWEST_LINE = re.compile(r"^\s*Slowest:\s+([0-9.]+) secs\s*$")
PERCENTILE_LINE = re.compile(r"^\s*(\d+)% in ([0-9.]+) secs\s*$")


@dataclass
class LoadResult:
    url: str
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # no HTTP answer: message -> count
    per_second: float = 0.0
    slowest: float = 0.0
    # Latency percentile -> seconds. hey prints "0% in 0.0000" in place of a percentile it has
    # too few samples for; those are left out.
    percentiles: dict[int, float] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + sum(self.errors.values())

    @property
    def failed(self) -> int:
        return sum(n for code, n in self.statuses.items() if not 200 <= code < 400) + sum(self.errors.values())


def parse_summary(url: str, summary: str) -> LoadResult:
    """Read hey's 'Status code distribution' and 'Error distribution' sections."""
    result = LoadResult(url)
    section = ""
    for line in summary.splitlines():
        if line.strip().endswith("distribution:"):
            section = line.strip()
            continue
        if rate := RATE_LINE.match(line):
            result.per_second = float(rate[1])
        elif slowest := SLOWEST_LINE.match(line):
            result.slowest = float(slowest[1])
        elif section == "Latency distribution:" and (match := PERCENTILE_LINE.match(line)):
            if int(match[1]) > 0:
                result.percentiles[int(match[1])] = float(match[2])
        if section == "Status code distribution:" and (match := STATUS_LINE.match(line)):
            result.statuses[int(match[1])] += int(match[2])
        elif section == "Error distribution:" and (match := ERROR_LINE.match(line)):
            result.errors[match[2]] += int(match[1])
    return result


@dataclass
class SteadyLoad:
    """`hey -z <seconds>s -q <rate> -c <workers>`: workers x rate requests per second for seconds."""

    url: str
    seconds: int
    rate: float
    workers: int = 2
    request_timeout: int = 20

    def start(self) -> SteadyLoad:
        argv = ["hey", "-z", f"{self.seconds}s", "-q", str(self.rate), "-c", str(self.workers),
                "-t", str(self.request_timeout), self.url]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return self

    def finish(self) -> LoadResult:
        out, _ = self.process.communicate(timeout=self.seconds + self.request_timeout + 30)
        if self.process.returncode != 0:
            raise RuntimeError(f"hey failed on {self.url} ({self.process.returncode}): {out[-500:]}")
        return parse_summary(self.url, out)


@dataclass
class Burst:
    """`hey -z <seconds>s -c <workers> [-q <rate>]`: as many requests as the workers get answered,
    or at most ``rate`` per worker and second."""

    url: str
    seconds: int
    workers: int = 50
    request_timeout: int = 20
    rate: float | None = None

    def run(self) -> LoadResult:
        argv = ["hey", "-z", f"{self.seconds}s", "-c", str(self.workers), "-t", str(self.request_timeout)]
        argv += ["-q", str(self.rate)] if self.rate else []
        argv.append(self.url)
        done = subprocess.run(argv, capture_output=True, text=True, check=False,
                              timeout=self.seconds + self.request_timeout + 30)
        if done.returncode != 0:
            raise RuntimeError(f"hey failed on {self.url} ({done.returncode}): {done.stdout[-500:]}{done.stderr[-500:]}")
        return parse_summary(self.url, done.stdout)
