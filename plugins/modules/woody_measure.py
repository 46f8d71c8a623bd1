#!/usr/bin/python
# Copyright (c) woodyswarm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: time HTTP requests with curl's own timers (one URL, a whole page, or N in parallel)."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: woody_measure
short_description: Time HTTP requests with curl's own timers (one URL, a whole page, or N in parallel)
description:
  - O(kind=url) GETs O(url) O(repetitions) times. With O(fresh_query) each request carries a new
    random value of that query parameter (a cold cache key each time); with O(prime) one request
    first warms the cache and is not counted. With O(invalidate_url), that URL is requested (not
    timed) before each counted request; a write that makes the next read a cache miss, for an
    endpoint whose answer depends on no parameter.
  - O(kind=page) loads the page and every asset it references (img, script, link href), wherever
    it is hosted, one after the other on fresh connections like a first visit; the sample is the
    sum of curl's C(time_total) of all of them. With O(resolve), an asset on a host that it does
    not name (a public CDN's script, outside the cluster) is not fetched; it is listed in the
    summary's C(outside) and left out of the time. With O(recursive_url) it also times the lab
    sheet's C(wget -r -np), which follows the page's own host only.
  - O(kind=parallel) starts O(parallel) requests at once, each with a distinct O(fresh_query)
    value; the sample is the wall time until the last one answered.
  - With O(resolve), names are resolved only through it (C(curl --resolve)); a URL whose
    host:port is not in it and is not an IP address is refused, so nothing leaves the addresses
    given. Without it, curl resolves names as the host does.
  - Fails, naming the URL, when a request gets no HTTP answer at all.
author:
  - woodyswarm maintainers (!UNKNOWN)
requirements:
  - C(curl) 7.70 or later (C(--write-out %{json}))
  - C(wget), only with O(recursive_url)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Measures in check mode too; only O(invalidate_url) writes (to the site, not the host).
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  kind:
    description: What one sample times; see the description.
    type: str
    choices: [url, page, parallel]
    default: url
  url:
    description: The URL timed (http or https).
    type: str
    required: true
  resolve:
    description: C(host:port:address) entries, as C(curl --resolve) takes them; see the description.
    type: list
    elements: str
    default: []
  repetitions:
    description: Samples to take (at least 1).
    type: int
    default: 3
  fresh_query:
    description: A query parameter given a new random value in each request.
    type: str
  prime:
    description: Request the URL once, not counted, before the samples (O(kind=url) only).
    type: bool
    default: false
  invalidate_url:
    description:
      - A URL requested, not timed, before each counted request (O(kind=url) only); it must answer 200.
      - C({fresh}) in it becomes a new random value each time.
    type: str
  expire_seconds:
    description:
      - Seconds waited before each counted request of O(kind=url) without O(prime), and before each
        sample of O(kind=parallel), for a cache entry to expire, so that the request is a miss for an app
        whose cache key ignores O(fresh_query) (the lab sheet's). 0, no wait.
    type: float
    default: 0
  parallel:
    description: Requests started at once in each sample of O(kind=parallel) (at least 1).
    type: int
    default: 5
  recursive_url:
    description:
      - The page by IP address, timed the lab sheet's way (C(wget -r -np)) in O(kind=page).
      - wget has no C(--resolve), so a name is refused.
    type: str
  timeout:
    description: Seconds each request may take.
    type: int
    default: 120
seealso:
  - module: ansible.builtin.uri
"""

EXAMPLES = r"""
---
- name: Time the slow API cold, a new cache key each time
  woodyswarm.shop.woody_measure:
    url: http://shop.example/api/misc/heavy
    fresh_query: name
    resolve: ["shop.example:80:192.0.2.10"]
  register: cold

- name: Time the page and its assets, and the lab sheet's wget -r
  woodyswarm.shop.woody_measure:
    kind: page
    url: http://shop.example/
    recursive_url: http://192.0.2.10/
    resolve: ["shop.example:80:192.0.2.10", "cdn.shop.example:80:192.0.2.20"]

- name: Time five slow requests at once
  woodyswarm.shop.woody_measure:
    kind: parallel
    url: http://shop.example/api/misc/heavy
    fresh_query: name
    parallel: 5

- name: Show the median
  ansible.builtin.debug:
    msg: "{{ cold.summary.p50 }} s"
"""

RETURN = r"""
---
url:
  description: The URL timed.
  type: str
  returned: success
  sample: http://shop.example/api/misc/heavy
kind:
  description: The O(kind) of the samples.
  type: str
  returned: success
  sample: url
samples:
  description:
    - One per repetition, each with C(seconds), C(status) (HTTP code; the first failing one, if
      any), C(cache) (the C(X-Cache) or C(X-Cache-Status) header; comma-separated for several
      requests) and C(bytes).
    - O(kind=page) samples add C(parts) (one such dict per request), O(kind=parallel) samples add
      C(requests).
  type: list
  elements: dict
  returned: success
  sample: [{seconds: 5.012, status: 200, cache: MISS, bytes: 52, url: "http://shop.example/api/misc/heavy?name=cold-1f2e"}]
summary:
  description:
    - C(count), C(min), C(p50), C(p95) and C(max) seconds (nearest-rank percentiles), C(statuses)
      and C(cache) (counts per value), C(bytes) (the largest sample).
    - O(kind=parallel) adds C(throughput_p50), requests per second at the median wall time.
    - O(kind=page) adds C(outside), the assets left out because their host is outside O(resolve).
  type: dict
  returned: success
  sample: {count: 3, min: 5.01, p50: 5.02, p95: 5.04, max: 5.04, statuses: {"200": 3}, cache: {MISS: 3}, bytes: 52}
prime:
  description: The uncounted warming request.
  type: dict
  returned: when O(prime=true) and O(kind=url)
recursive:
  description: C(samples) and C(summary) of the C(wget -r -np) runs.
  type: dict
  returned: when O(recursive_url) is given with O(kind=page)
"""

import json
import shutil
import subprocess
import tempfile
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit, parse_qsl

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.woodyswarm.shop.plugins.module_utils.woody_stats import summarize

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "kind": {"type": "str", "choices": ["url", "page", "parallel"], "default": "url"},
    "url": {"type": "str", "required": True},
    "resolve": {"type": "list", "elements": "str", "default": []},
    "repetitions": {"type": "int", "default": 3},
    "fresh_query": {"type": "str"},
    "prime": {"type": "bool", "default": False},
    "invalidate_url": {"type": "str"},
    "expire_seconds": {"type": "float", "default": 0},
    "parallel": {"type": "int", "default": 5},
    "recursive_url": {"type": "str"},
    "timeout": {"type": "int", "default": 120},
}

HEADERS_OF_INTEREST = ("x-cache", "x-cache-status")


class AssetFinder(HTMLParser):
    """Collects what a browser would fetch for the page: images, scripts, stylesheets."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("img", "script") and found.get("src"):
            self.assets.append(str(found["src"]))
        elif tag == "link" and found.get("href") and {"stylesheet", "icon"} & set((found.get("rel") or "").lower().split()):
            self.assets.append(str(found["href"]))


def with_fresh_query(url: str, name: str | None, tag: str) -> str:
    if not name:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != name] + [(name, f"{tag}-{uuid.uuid4().hex[:12]}")]
    return urlunsplit(parts._replace(query=urlencode(query)))


def host_port(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def is_ip(host: str) -> bool:
    return all(p.isdigit() for p in host.split(".")) and host.count(".") == 3


class Curl:
    def __init__(self, resolve: list[str], timeout: int) -> None:
        self.resolve = resolve
        self.timeout = timeout
        self.known = {":".join(entry.split(":")[:2]) for entry in resolve}

    def inside(self, url: str) -> bool:
        """Whether the URL's host is one the measurement may reach (every host without resolve)."""
        return not self.known or host_port(url) in self.known or is_ip(urlsplit(url).hostname or "")

    def check(self, url: str) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"{url}: only http and https URLs are measured")
        if not self.inside(url):
            raise ValueError(f"{url}: {host_port(url)} is not in resolve ({sorted(self.known)}); refusing to "
                             "resolve it elsewhere")

    def argv(self, url: str, body: str) -> list[str]:
        argv = ["curl", "--silent", "--show-error", "--globoff", "--max-time", str(self.timeout),
                "--output", body, "--dump-header", "-", "--write-out", "\n%{json}"]
        for entry in self.resolve:
            argv += ["--resolve", entry]
        return argv + [url]

    @staticmethod
    def parse(url: str, done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
        head, _newline, tail = done.stdout.rpartition("\n")
        timing = json.loads(tail) if tail.startswith("{") else {}
        headers = {}
        for line in head.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip().lower() in HEADERS_OF_INTEREST:
                headers[name.strip().lower()] = value.strip()
        if done.returncode != 0 and not timing.get("http_code"):
            return {"url": url, "seconds": float(timing.get("time_total", 0)), "status": 0, "cache": "",
                    "bytes": 0, "error": done.stderr.strip() or f"curl exit {done.returncode}"}
        return {"url": url, "seconds": float(timing["time_total"]), "status": int(timing["http_code"]),
                "cache": headers.get("x-cache") or headers.get("x-cache-status", ""),
                "bytes": int(timing.get("size_download", 0))}

    def get(self, url: str, body: str = "/dev/null") -> dict[str, Any]:
        self.check(url)
        done = subprocess.run(self.argv(url, body), capture_output=True, text=True, check=False,
                              timeout=self.timeout + 10)
        return self.parse(url, done)

    def get_many(self, urls: list[str]) -> tuple[float, list[dict[str, Any]]]:
        """All at once; the wall time until the last answered."""
        for url in urls:
            self.check(url)
        started = time.monotonic()
        running = [(url, subprocess.Popen(self.argv(url, "/dev/null"), stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True)) for url in urls]
        answers = []
        for url, process in running:
            out, err = process.communicate(timeout=self.timeout + 10)
            answers.append(self.parse(url, subprocess.CompletedProcess(process.args, process.returncode, out, err)))
        return time.monotonic() - started, answers


def page_sample(curl: Curl, url: str, workdir: Path) -> dict[str, Any]:
    html = workdir / "page.html"
    page = curl.get(url, str(html))
    parts = [page]
    outside: list[str] = []
    if page["status"] == 200:
        finder = AssetFinder()
        finder.feed(html.read_text(errors="replace"))
        assets = [urljoin(url, asset) for asset in dict.fromkeys(finder.assets)]
        # An asset on a host outside the cluster (a public CDN's script) is listed, not fetched:
        # the measurement reaches only the hosts of resolve.
        outside = [asset for asset in assets if not curl.inside(asset)]
        parts += [curl.get(asset) for asset in assets if asset not in outside]
    failed = [p for p in parts if not 200 <= p["status"] < 300]
    return {"seconds": sum(p["seconds"] for p in parts), "status": failed[0]["status"] if failed else 200,
            "cache": ",".join(p["cache"] or "-" for p in parts[1:]), "bytes": sum(p["bytes"] for p in parts),
            "parts": parts, "outside": outside}


def recursive_sample(url: str, timeout: int, workdir: Path) -> dict[str, Any]:
    """The lab sheet's `wget -r -np`: follows links on the page's own host only."""
    target = workdir / "wget"
    started = time.monotonic()
    done = subprocess.run(["wget", "--quiet", "-r", "-np", "--timeout", str(timeout), "--tries", "1",
                           "-P", str(target), url], capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    files = [p for p in target.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    shutil.rmtree(target, ignore_errors=True)
    return {"seconds": seconds, "status": 200 if done.returncode == 0 else 0, "cache": "", "bytes": size,
            "files": len(files)}


def expire(seconds: float) -> None:
    """Let a cache entry expire. A wait, not a poll: asking whether it expired would be a request
    that fills the entry again, or one the app answers from it."""
    if seconds > 0:
        time.sleep(seconds)


def run(params: dict[str, Any]) -> dict[str, Any]:
    curl = Curl(params["resolve"], params["timeout"])
    url, kind, fresh = params["url"], params["kind"], params.get("fresh_query")
    repetitions = params["repetitions"]
    curl.check(url)
    samples: list[dict[str, Any]] = []
    result: dict[str, Any] = {"url": url, "kind": kind}
    with tempfile.TemporaryDirectory(prefix="woody-measure-") as tmp:
        if kind == "url":
            warm_url = with_fresh_query(url, fresh, "warm") if params["prime"] else None
            if warm_url:
                result["prime"] = curl.get(warm_url)
            for _repetition in range(repetitions):
                if not warm_url:
                    expire(params["expire_seconds"])
                if params.get("invalidate_url"):
                    invalidated = curl.get(params["invalidate_url"].replace("{fresh}", f"measure-{uuid.uuid4().hex[:12]}"))
                    if invalidated["status"] != 200:
                        raise ValueError(f"{invalidated['url']} answered {invalidated['status']}: "
                                         "it cannot make the next read a miss")
                samples.append(curl.get(warm_url or with_fresh_query(url, fresh, "cold")))
        elif kind == "page":
            samples = [page_sample(curl, url, Path(tmp)) for _repetition in range(repetitions)]
            recursive_url = params.get("recursive_url")
            if recursive_url:
                # wget has no --resolve: it gets the page by address, and so never looks a name up.
                if not is_ip(urlsplit(recursive_url).hostname or ""):
                    raise ValueError(f"recursive_url {recursive_url}: give the page's address, not a name")
                recursive = [recursive_sample(recursive_url, params["timeout"], Path(tmp)) for _repetition in range(repetitions)]
                result["recursive"] = {"samples": recursive, "summary": summarize(recursive)}
        else:
            for round_ in range(repetitions):
                expire(params["expire_seconds"])
                urls = [with_fresh_query(url, fresh or "name", f"par{round_}-{i}") for i in range(params["parallel"])]
                wall, answers = curl.get_many(urls)
                failed = [a for a in answers if not 200 <= a["status"] < 300]
                samples.append({"seconds": wall, "status": failed[0]["status"] if failed else 200,
                                "cache": ",".join(a["cache"] or "-" for a in answers),
                                "bytes": sum(a["bytes"] for a in answers), "requests": answers})
    unanswered = [part for sample in samples for part in sample.get("parts", sample.get("requests", [sample]))
                  if part.get("status") == 0]
    if unanswered:
        # No HTTP answer at all is not a timing: fail, naming what did not answer and why.
        raise ValueError(f"{len(unanswered)} request(s) got no answer, e.g. {unanswered[0]['url']}: "
                         f"{unanswered[0].get('error', '')}")
    result["samples"] = samples
    result["summary"] = summarize(samples)
    if kind == "page":
        result["summary"]["outside"] = sorted({asset for sample in samples for asset in sample["outside"]})
    if kind == "parallel":
        result["summary"]["throughput_p50"] = params["parallel"] / result["summary"]["p50"]
    return result


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if module.params["repetitions"] < 1 or module.params["parallel"] < 1:
        module.fail_json(msg="repetitions and parallel must be >= 1")
    try:
        result = run(module.params)
    except (ValueError, OSError, subprocess.SubprocessError) as error:
        module.fail_json(msg=f"woody_measure {module.params['url']}: {error}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
