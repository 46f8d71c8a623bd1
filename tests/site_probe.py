"""A probe that GETs paths of the lab's site in a loop and records every answer (for fault tests)."""
from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

SITE = "http://127.0.0.1:8080"


@dataclass
class Answer:
    at: float  # time.monotonic() when the request started
    path: str
    status: int  # 0: no HTTP answer at all
    cache: str
    error: str = ""
    retry_after: bool = False  # a refusal a client can act on (503 + Retry-After)


@dataclass(eq=False)  # a thread must stay hashable
class SiteProbe(threading.Thread):
    """GETs each path in turn every `period` seconds until stopped."""

    paths: list[str]
    period: float = 0.2
    timeout: float = 15
    expect: dict[str, bytes] = field(default_factory=dict)  # path -> the body it must answer
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread.__init__(self, daemon=True)
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            for path in self.paths:
                self.answers.append(self.get(path))
            time.sleep(self.period)

    def get(self, path: str) -> Answer:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(SITE + path, timeout=self.timeout) as answer:
                body = answer.read().strip()
                wrong = path in self.expect and body != self.expect[path]
                return Answer(started, path, answer.status, answer.headers.get("X-Cache", ""),
                              f"unexpected body {body[:80]!r}" if wrong else "")
        except urllib.error.HTTPError as error:
            return Answer(started, path, error.code, error.headers.get("X-Cache", ""), str(error),
                          error.headers.get("Retry-After") is not None)
        except OSError as error:
            return Answer(started, path, 0, "", repr(error))

    def finish(self) -> list[Answer]:
        self.halt.set()
        self.join()
        return self.answers

    def failures(self, since: float = 0.0) -> list[Answer]:
        return [a for a in self.answers if a.at >= since and (a.error or not 200 <= a.status < 400)]
