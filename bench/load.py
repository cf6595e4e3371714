"""Load generator: browser-like clients of the Dash app, in asyncio with httpx.

``run_load(base_url, clients, seconds, scenario)`` starts ``clients`` concurrent clients for ``seconds`` and
returns a :class:`LoadReport`: per request kind the count, errors and the p50 / p95 / p99 / max latency in ms.
``python -m bench.load URL --clients 50 --seconds 60 --scenario browse`` prints the summary table;
``python -m bench.load --stack ../shared/data/online_retail.parquet --clients 20 --scenario overview`` starts the
load test's stack first (tests/test_load.py: gunicorn with 2 processes while 2 sweeps run) - the issue-6 figure.

A client does what a browser does (the sequence was recorded from Chromium on the real app):

* **open a page** (a new tab): ``GET`` the page, its JS/CSS once per client, ``_dash-layout`` and
  ``_dash-dependencies``; then the callbacks in the renderer's order and with its payloads: the app's job-list
  refresh and the page router together, the refresh of the page's ``kick`` store, the dataset selection and the
  navbar's dataset name, and the page's own callbacks (Overview: submit the describe job, status and KPIs, the
  charts; Jobs: the table);
* **navigate** to another page through the navbar (the same callbacks without the page load);
* **poll**: while a job is queued or running the app's ``dcc.Interval`` ticks every ``POLL_MS``: the refresh,
  and the callbacks listening to the job list when it changed (Overview: its status callback; Jobs: the table).

Scenarios: ``overview`` opens the Overview, polls ``ticks`` times and opens it again (issue 6: loading the
Overview); ``browse`` opens the Overview, polls, navigates to Jobs, polls, and starts over in a new tab (issue 7).

An error is a transport failure, an HTTP status other than 200/204, a callback answer without ``response``, an
error alert of the app in a callback's answer (it turns exceptions into "Something went wrong ..." or "queue is
unavailable"), or an Overview without its KPIs or its 7 charts. Local mode only (no sign-in).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import ssl
import sys
import time
from dataclasses import dataclass, field

import httpx

try:
    import sniffio  # noqa: F401
except ImportError:
    # httpcore tries ``import sniffio`` on every lock it takes; a failing import is not cached and searched
    # sys.path each time (a sixth of the generator's CPU). Cache the failure: it then falls back to asyncio at once.
    sys.modules["sniffio"] = None

POLL_MS = 1000  # webapp.app.POLL_MS: the polling interval of the app
OVERVIEW_CHARTS = 7  # Online Retail (line items): every chart of the Overview
# The app's own error texts (webapp.components.error_alert, webapp.app.refresh, the Overview's status).
ERROR_MARKERS = ("Something went wrong", "queue is unavailable", "could not be read", "result of this job is missing",
                 "does not exist in your team")
LAZY_ASSETS = ("/_dash-component-suites/dash/dcc/async-graph.js",
               "/_dash-component-suites/plotly/package_data/plotly.min.js")  # loaded by the first chart


# ---- the report ----------------------------------------------------------------------------------------------

@dataclass
class KindStats:
    """Latencies (ms) and errors of one kind of request."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def summary(self) -> dict:
        lat = sorted(self.latencies)
        return {"count": len(lat), "errors": self.errors, "p50": _pct(lat, 50), "p95": _pct(lat, 95),
                "p99": _pct(lat, 99), "max": lat[-1] if lat else None}


def _pct(values: list[float], p: float) -> float | None:
    """The ``p``-th percentile of sorted ``values`` (nearest rank), None when empty."""
    if not values:
        return None
    rank = max(1, -(-len(values) * p // 100))
    return values[int(rank) - 1]


@dataclass
class LoadReport:
    """What :func:`run_load` measured. ``kinds``: request kind -> :class:`KindStats`; ``error_samples``: up to 20
    ``kind: what`` lines; ``pages``: page openings that completed; ``seconds``: the measured wall time."""

    clients: int
    scenario: str
    seconds: float = 0.0
    kinds: dict[str, KindStats] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    pages: int = 0
    resent: int = 0  # requests sent again after the server closed an idle keep-alive connection (browsers do too)

    def record(self, kind: str, ms: float | None, error: str | None = None) -> None:
        stats = self.kinds.setdefault(kind, KindStats())
        if ms is not None:
            stats.latencies.append(ms)
        if error is not None:
            stats.errors += 1
            if len(self.error_samples) < 20:
                self.error_samples.append(f"{kind}: {error}")

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.kinds.values())

    @property
    def requests(self) -> int:
        return sum(len(s.latencies) for s in self.kinds.values())

    def total(self, include_assets: bool = False) -> dict:
        """The summary over every request kind (static assets excluded unless asked)."""
        merged = KindStats()
        for kind, stats in self.kinds.items():
            if include_assets or not kind.startswith("GET asset"):
                merged.latencies += stats.latencies
                merged.errors += stats.errors
        return merged.summary()

    def table(self) -> str:
        """The summary as a Markdown table, one row per request kind and the total."""
        head = (f"{self.clients} clients, scenario '{self.scenario}', {self.seconds:.0f} s: {self.requests} "
                f"requests ({self.requests / max(self.seconds, 1e-9):.0f}/s), {self.pages} pages opened, "
                f"{self.errors} errors, {self.resent} sent again on a new connection after the server closed an "
                f"idle keep-alive one\n\n")
        rows = ["| request | count | errors | p50 ms | p95 ms | p99 ms | max ms |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for kind in sorted(self.kinds):
            rows.append(_row(kind, self.kinds[kind].summary()))
        rows.append(_row("**all but static assets**", self.total()))
        text = head + "\n".join(rows) + "\n"
        if self.error_samples:
            text += "\nErrors (first 20):\n" + "\n".join(f"- {e}" for e in self.error_samples) + "\n"
        return text


def _row(name: str, s: dict) -> str:
    def ms(v):
        return "-" if v is None else f"{v:.0f}"

    return f"| {name} | {s['count']} | {s['errors']} | {ms(s['p50'])} | {ms(s['p95'])} | {ms(s['p99'])} | " \
           f"{ms(s['max'])} |"


# ---- one browser -----------------------------------------------------------------------------------------------

def split_outputs(output: str) -> list[dict]:
    """The ``outputs`` of a callback from its ``output`` string (``..a.x...b.y..`` or ``a.x``), as the renderer
    sends them (dict ids parsed; ``@hash`` suffixes of duplicate outputs kept)."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    out = []
    for part in parts:
        if part.startswith("{"):
            ident, prop = part.split("}.", 1)
            out.append({"id": json.loads(ident + "}"), "property": prop})
        else:
            ident, prop = part.rsplit(".", 1)
            out.append({"id": ident, "property": prop})
    return out


class Browser:
    """One client: the renderer's state (store values by ``id.prop``), the callback map, its timings."""

    def __init__(self, http: httpx.AsyncClient, report: LoadReport, expected_describe: str | None = None) -> None:
        self.http = http
        self.report = report
        self.values: dict[str, object] = {}
        self.deps: list[dict] = []
        self.page = ""
        self.end_id = ""
        self.assets_loaded = False
        self.charts_loaded = False
        self.polling = False
        self.expected_describe = expected_describe

    # -- requests --

    async def _send(self, method: str, path: str, **kwargs) -> httpx.Response:
        """One request; sent once more when the server closed the (reused, idle) connection before answering, as
        browsers do: gunicorn closes keep-alive connections idle for ``keepalive`` s, racing the next request."""
        try:
            response = await self.http.request(method, path, **kwargs)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            self.report.resent += 1
            response = await self.http.request(method, path, **kwargs)
        await response.aread()
        return response

    async def get(self, kind: str, path: str) -> httpx.Response | None:
        start = time.perf_counter()
        try:
            response = await self._send("GET", path)
        except httpx.HTTPError as exc:
            self.report.record(kind, None, f"{type(exc).__name__}: {exc}")
            return None
        ms = (time.perf_counter() - start) * 1000
        self.report.record(kind, ms, None if response.status_code == 200 else f"HTTP {response.status_code}")
        return response

    def _dep(self, output_part: str) -> dict:
        found = [d for d in self.deps if output_part in d["output"]]
        if len(found) != 1:
            raise LookupError(f"{len(found)} callbacks output {output_part}")
        return found[0]

    def _item(self, spec: dict):
        ident = spec["id"]
        if ident.startswith("{"):  # a pattern (ALL): the matching kick store of the page shown
            pattern = json.loads(ident)
            if pattern.get("type") == "kick" and self.page:
                return [{"id": {"page": self.page, "type": "kick"}, "property": spec["property"]}]
            return []
        item = {"id": ident, "property": spec["property"]}
        key = f"{ident}.{spec['property']}"
        if self.values.get(key) is not None:
            item["value"] = self.values[key]
        return item

    async def callback(self, kind: str, output_part: str, triggered: list[str]) -> dict | None:
        """POST one callback like the renderer; store its outputs; None on an error (recorded)."""
        dep = self._dep(output_part)
        outputs = split_outputs(dep["output"])
        body = {"output": dep["output"], "outputs": outputs if dep["output"].startswith("..") else outputs[0],
                "inputs": [self._item(i) for i in dep["inputs"]], "changedPropIds": triggered,
                "parsedChangedPropsIds": [json.loads(t.rsplit(".", 1)[0]) if t.startswith("{") else t
                                          for t in triggered]}
        if dep["state"]:
            body["state"] = [self._item(s) for s in dep["state"]]
        start = time.perf_counter()
        try:
            response = await self._send("POST", f"/_dash-update-component?endId={self.end_id}", json=body)
        except httpx.HTTPError as exc:
            self.report.record(kind, None, f"{type(exc).__name__}: {exc}")
            return None
        ms = (time.perf_counter() - start) * 1000
        if response.status_code == 204:  # every output no_update
            self.report.record(kind, ms)
            return {}
        problem = None
        if response.status_code != 200:
            problem = f"HTTP {response.status_code}: {response.text[:200]}"
        else:
            text = response.text
            marker = next((m for m in ERROR_MARKERS if m in text), None)
            if marker:
                problem = f"error in the answer ({marker}): {text[:300]}"
        if problem is None:
            try:
                answer = response.json()["response"]
            except (ValueError, KeyError):
                problem = f"no callback response: {response.text[:200]}"
        self.report.record(kind, ms, problem)
        if problem is not None:
            return None
        for ident, props in answer.items():
            for prop, value in props.items():
                self.values[f"{ident}.{prop}"] = value
        return answer

    # -- what the renderer does --

    async def open(self, path: str) -> bool:
        """A new tab on ``path``: the page, its assets once, layout and dependencies, then the callbacks."""
        page = await self.get("GET page", path)
        if page is None or page.status_code != 200:
            return False
        match = re.search(r'"end_id":\s*"([^"]+)"', page.text)
        self.end_id = match.group(1) if match else ""
        if not self.assets_loaded:
            self.assets_loaded = True
            urls = re.findall(r'(?:src|href)="(/(?:assets|_dash-component-suites)/[^"]+)"', page.text)
            for url in urls:
                await self.get("GET asset (once per client)", url)
        layout, deps = await asyncio.gather(self.get("GET _dash-layout", "/_dash-layout"),
                                            self.get("GET _dash-dependencies", "/_dash-dependencies"))
        if layout is None or deps is None or deps.status_code != 200:
            return False
        self.deps = deps.json()
        # A new tab: only local storage survives (the selected dataset and rules); memory stores start empty.
        self.values = {k: v for k, v in self.values.items() if k in ("store-dataset.data", "store-rules.data")}
        self.values.setdefault("store-rules.data", {})
        self.values["url.pathname"] = self.values["_pages_location.pathname"] = path
        self.values["_pages_location.search"] = ""
        return await self._show(path, first=True)

    async def navigate(self, path: str) -> bool:
        """A click on a navbar link: the router and the refresh, then the page's callbacks."""
        self.values["url.pathname"] = self.values["_pages_location.pathname"] = path
        return await self._show(path, first=False)

    async def _show(self, path: str, *, first: bool) -> bool:
        self.page = ""
        refresh, content = await asyncio.gather(
            self.callback("cb refresh (page shown)", "store-jobs.data", ["url.pathname"]),
            self.callback("cb page router", "_pages_content.children",
                          ["_pages_location.pathname"] + (["_pages_location.search"] if first else [])))
        if refresh is None or content is None:
            return False
        self.page = path.strip("/") or "data"
        kick = json.dumps({"page": self.page, "type": "kick"}, separators=(",", ":")) + ".data"
        for key in [k for k in self.values if k.startswith(("ov-", "jobs-"))]:
            del self.values[key]  # the new page's components start empty
        self.values.pop("ov-pin.data", None)
        refresh = await self.callback("cb refresh (page shown)", "store-jobs.data", [kick])
        if refresh is None:
            return False
        self.polling = not self.values.get("poll.disabled", True)
        selected = await self.callback("cb select dataset", "store-dataset.data",
                                       ["store-dataset.data", "store-datasets.data"] if first
                                       else ["store-datasets.data"])
        if selected is None:
            return False
        steps = [self.callback("cb navbar dataset", "nav-dataset.children", ["store-datasets.data"])]
        if self.page == "overview":
            steps.append(self._overview(first))
        elif self.page == "jobs":
            steps.append(self.callback("cb jobs table", "jobs-table.children",
                                       ["store-jobs.data", "store-datasets.data"]))
        ok = all(r is not None and r is not False for r in await asyncio.gather(*steps))
        self.report.pages += ok
        return ok

    async def _overview(self, first: bool) -> bool:
        submit = await self.callback("cb overview submit", "ov-job.data",
                                     ["ov-pin.data", "store-dataset.data"] if first else ["ov-pin.data"])
        if submit is None:
            return False
        show = await self.callback("cb overview status+KPIs", "ov-status.children", ["store-jobs.data", "ov-job.data"])
        if show is None:
            return False
        rendered = self.values.get("ov-rendered.data")
        if not rendered or (self.expected_describe and rendered != self.expected_describe):
            self.report.record("cb overview status+KPIs", None, f"no KPIs rendered (ov-rendered={rendered!r})")
            return False
        self.values["ov-painted.data"] = rendered  # the renderer's clientside relay (overview.AFTER_PAINT_JS)
        charts = await self.callback("cb overview charts", "ov-charts.children", ["ov-painted.data"])
        if charts is None:
            return False
        text = json.dumps(charts, separators=(",", ":"))
        graphs = text.count('"type":"Graph"')
        if graphs != OVERVIEW_CHARTS:
            self.report.record("cb overview charts", None, f"{graphs} charts, not {OVERVIEW_CHARTS}")
            return False
        if not self.charts_loaded:
            self.charts_loaded = True
            for url in LAZY_ASSETS:
                await self.get("GET asset (once per client)", url)
        return True

    async def tick(self) -> bool:
        """One polling tick (only while polling is on) and the callbacks it triggers."""
        if not self.polling:
            return True
        before = self.values.get("store-jobs.data")
        datasets_before = self.values.get("store-datasets.data")
        answer = await self.callback("cb refresh (poll tick)", "store-jobs.data", ["poll.n_intervals"])
        if answer is None:
            return False
        self.polling = not self.values.get("poll.disabled", True)
        steps = []
        if self.values.get("store-datasets.data") != datasets_before:
            steps.append(self.callback("cb select dataset", "store-dataset.data", ["store-datasets.data"]))
        if self.values.get("store-jobs.data") != before:
            if self.page == "overview":
                steps.append(self.callback("cb overview status (poll tick)", "ov-status.children",
                                           ["store-jobs.data"]))
            elif self.page == "jobs":
                steps.append(self.callback("cb jobs table (poll tick)", "jobs-table.children", ["store-jobs.data"]))
        return all(r is not None for r in await asyncio.gather(*steps))


SCENARIOS = {
    "overview": (("open", "/overview"), ("poll", None)),
    "browse": (("open", "/overview"), ("poll", None), ("navigate", "/jobs"), ("poll", None)),
}


async def _client(browser: Browser, scenario: str, deadline: float, ticks: int, stagger: float) -> None:
    await asyncio.sleep(stagger)
    while time.monotonic() < deadline:
        for step, path in SCENARIOS[scenario]:
            if time.monotonic() >= deadline:
                return
            if step == "open":
                await browser.open(path)
            elif step == "navigate":
                await browser.navigate(path)
            else:
                for _ in range(ticks):
                    next_tick = time.monotonic() + POLL_MS / 1000
                    await browser.tick()
                    await asyncio.sleep(max(0.0, min(next_tick, deadline) - time.monotonic()))
                    if time.monotonic() >= deadline:
                        return


async def run_load_async(base_url: str, clients: int, seconds: float, scenario: str = "browse", *, ticks: int = 3,
                         expected_describe: str | None = None, timeout: float = 30.0) -> LoadReport:
    """See :func:`run_load`."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario {scenario!r} is not one of {', '.join(SCENARIOS)}")
    report = LoadReport(clients=clients, scenario=scenario)
    # One connection pool per client, of a browser's size (6 per host); one shared pool would be scanned whole on
    # every request.
    limits = httpx.Limits(max_connections=6, max_keepalive_connections=6)
    tls = ssl.create_default_context()  # one for all (20 ms of CPU each)
    https = [httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits, verify=tls) for _ in range(clients)]
    try:
        start = time.monotonic()
        deadline = start + seconds
        # Clients arrive over the first second, as real ones do not all click at the same instant.
        await asyncio.gather(*(_client(Browser(http, report, expected_describe), scenario, deadline, ticks,
                                       i / max(clients, 1)) for i, http in enumerate(https)))
        report.seconds = time.monotonic() - start
    finally:
        await asyncio.gather(*(http.aclose() for http in https))
    return report


def run_load(base_url: str, clients: int, seconds: float, scenario: str = "browse", *, ticks: int = 3,
             expected_describe: str | None = None, timeout: float = 30.0) -> LoadReport:
    """Run ``clients`` browser-like clients of ``scenario`` (``overview`` or ``browse``) for ``seconds`` against
    ``base_url``; each polls ``ticks`` times (1 s apart, while a job is active) between page openings.
    ``expected_describe``: the describe job id the Overview must show (checked when given). Requests in flight at
    the deadline finish and are counted; ``timeout`` (s) per request counts as an error."""
    return asyncio.run(run_load_async(base_url, clients, seconds, scenario, ticks=ticks,
                                      expected_describe=expected_describe, timeout=timeout))


def with_stack(data: str, args) -> tuple[str, LoadReport]:
    """Start the load test's stack (tests/test_load.py: Redis, a niced worker with 2 processes, gunicorn with 2
    processes, ``data`` ingested and described), start its 2 sweeps, run the load; the Markdown section."""
    import tempfile
    from pathlib import Path

    from tests.test_load import LoadStack, run_under_sweeps

    with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
        stack = LoadStack(Path(folder), Path(data))
        try:
            stack.prepare()
            stack.start_sweeps()
            report, text, _, _ = run_under_sweeps(stack, args.clients, args.seconds, args.scenario)
        finally:
            stack.close()
    return text, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", help="base URL of a running app, e.g. http://127.0.0.1:8050")
    parser.add_argument("--stack", metavar="DATA_FILE",
                        help="instead of a URL: start the load test's stack on this file (e.g. "
                             "../shared/data/online_retail.parquet) with 2 sweeps running, then measure")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="browse")
    parser.add_argument("--ticks", type=int, default=3, help="polling ticks between page openings (default 3)")
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args(argv)
    if bool(args.url) == bool(args.stack):
        parser.error("give either a URL or --stack DATA_FILE")
    if args.stack:
        table, report = with_stack(args.stack, args)
    else:
        report = run_load(args.url.rstrip("/"), args.clients, args.seconds, args.scenario, ticks=args.ticks)
        table = report.table()
    print(table)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(table)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
