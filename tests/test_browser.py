"""The dashboard in headless Chromium (Playwright) against the real thing: ``python -m webapp`` as a subprocess,
a throwaway redis-server and a real Celery worker (``tests.test_jobs.Stack``).

Acceptance, in order (the tests share one stack, one app and one browser; later tests reuse earlier datasets):

a. demo dataset -> Overview KPIs equal the describe result -> k-sweep with a moving progress bar -> charts and
   the recommended k -> K-means -> Insights -> the membership CSV matches the job's labels;
b. the customer-level CSV: the Overview lists what it cannot show; K-means k=4 on Total_Spend and
   Items_Purchased (log none) finds the four city groups;
c. a broken file: the page names the problem and the dataset list does not change;
d. reload mid-sweep (and another browser): the job is still shown, with progress, and completes in the page;
e. while a sweep runs, switching pages and loading the Overview takes under a second (printed);
f. no console errors on any page; a screenshot of each page in ``test-artifacts/screenshots/``.

Downloads of another team's job answer 404. In CI (``CI=true``) nothing skips.
"""

from __future__ import annotations

import io
import re
import time

import pandas as pd
import pytest

from tests.browser_helpers import (
    SCREENSHOTS,
    ConsoleWatcher,
    WebApp,
    http_get,
    launch_chromium,
    require_browser,
    screenshot,
)
from tests.services import wait_for
from tests.test_jobs import Stack
from workers.launcher import WORKER_NICE

TEAM = "local"
FINAL = ("done", "failed", "cancelled")
# Click to the first frame painted with the content, while a sweep keeps both cores busy (the worker niced as
# `make run` starts it), measured on the page's clock: 0.09-0.21 s for every page on this machine. The bound had
# been raised to 2.0 s for an Overview "regression" (0.5-1.4 s) that was Playwright's measurement: its visibility
# polling runs on the page's main thread and waited for the seven charts to be drawn, while the KPIs had been
# painted at 0.11-0.19 s (measured both before and after overview.AFTER_PAINT_JS, which makes that order certain).
# Playwright's own wait keeps the looser bound.
PAGE_SWITCH_LIMIT = 1.0
WAITED_LIMIT = 2.0
CITY_GROUPS = {frozenset({"Chicago", "Houston"}), frozenset({"New York"}), frozenset({"Los Angeles", "Miami"}),
               frozenset({"San Francisco"})}


class Env:
    """Everything the tests share."""

    def __init__(self, stack: Stack, app: WebApp, browser, watcher: ConsoleWatcher, folder) -> None:
        self.stack, self.app, self.browser, self.watcher, self.folder = stack, app, browser, watcher, folder
        self.client = stack.client
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        watcher.watch(self.page)
        self.switch_times: list[tuple[str, float]] = []
        self.later_times: list[tuple[str, float]] = []
        self.waited_times: list[tuple[str, float]] = []
        self._cluster_job: str | None = None

    @property
    def cluster_job(self) -> str:
        """A finished K-means job of the team (test a's; made through the client if that test failed)."""
        if self._cluster_job is None:
            job = self.client.submit("cluster", self.demo()["id"], {"k": 4, "n_init": 2}, owner=TEAM, team=TEAM)
            self._cluster_job = self.wait_job(job["id"])["id"]
        return self._cluster_job

    @cluster_job.setter
    def cluster_job(self, job_id: str) -> None:
        self._cluster_job = job_id

    def goto(self, path: str) -> None:
        self.page.goto(self.app.url + path)

    def nav(self, name: str) -> None:
        self.page.click(f"#nav-{name}")

    def jobs(self) -> list[dict]:
        return self.client.list_jobs(team=TEAM, limit=100)["jobs"]

    def wait_job(self, job_id: str, timeout: float = 120, team: str = TEAM) -> dict:
        return wait_for(lambda: (j := self.client.status(job_id, team=team))["status"] in FINAL and j, timeout,
                        what=f"job {job_id}")

    def datasets(self) -> list[dict]:
        return self.client.datasets(team=TEAM)

    def demo(self) -> dict:
        """The demo dataset (imported through the page in test a; through the client if that test failed)."""
        found = [d for d in self.datasets() if d.get("demo")]
        if found:
            return found[0]
        job = self.wait_job(self.client.add_demo(owner=TEAM, team=TEAM)["id"])
        return self.client.dataset(job["result_keys"]["dataset"], team=TEAM)

    def select_dataset(self, dataset_id: str) -> None:
        self.goto("/")
        row = self.page.locator(f'#data-datasets-table tr[data-dataset="{dataset_id}"]')
        row.wait_for()
        button = row.locator("button")
        if button.count():
            button.click()
        self.page.locator(f'#data-datasets-table tr[data-dataset="{dataset_id}"] .badge').wait_for()

    def download(self, selector: str):
        with self.page.expect_download() as info:
            self.page.click(selector)
        return info.value

    def shot(self, name: str) -> None:
        self.page.wait_for_timeout(300)  # let plotly finish drawing
        screenshot(self.page, name)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    require_browser()
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("browser")
    stack = Stack(folder, concurrency=2, worker_niceness=WORKER_NICE)  # as `make run` starts its worker
    app = None
    try:
        stack.add_worker()
        app = WebApp({**stack.env, "MAX_UPLOAD_MB": "5"}, folder / "web.log").start()
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                yield Env(stack, app, browser, ConsoleWatcher(), folder)
            finally:
                browser.close()
    finally:
        if app is not None:
            problems = [line for line in app.output().splitlines()
                        if any(word in line for word in ("ERROR", "WARNING", "Traceback", "Error"))]
            if problems:
                print("\n--- problems in the web app log ---\n" + "\n".join(problems[-40:]))
            app.stop()
        stack.close()


# ---- helpers -------------------------------------------------------------------------------------------------

def kpi_values(page) -> dict[str, str]:
    labels = page.locator(".kpi-card .kpi-label").all_inner_texts()
    values = page.locator(".kpi-card .kpi-value").all_inner_texts()
    return dict(zip(labels, values, strict=True))


def money(x: float) -> str:
    return f"{x:,.2f}"


def set_k_range(page, low: int, high: int) -> None:
    for selector, value in ((".dash-range-slider-max-input", high), (".dash-range-slider-min-input", low)):
        box = page.locator(f"#seg-k-range {selector}")
        box.fill(str(value))
        box.press("Enter")
    page.wait_for_timeout(200)


def set_advanced(page, *, n_init: int | None = None, stability: int | None = None) -> None:
    if not page.locator("#seg-n-init").is_visible():
        page.click("#seg-advanced button")
    if n_init is not None:
        page.fill("#seg-n-init", str(n_init))
    if stability is not None:
        page.fill("#seg-stability", str(stability))
    page.locator("#seg-n-init").press("Tab")


def choose_features(page, wanted: set[str]) -> None:
    labels = page.locator("#seg-features label").all_inner_texts()
    for i, label in enumerate(labels):
        box = page.locator("#seg-features input").nth(i)
        if box.is_checked() != (label.strip().split(" ")[0] in wanted):
            box.click()
    checked = {label.strip().split(" ")[0] for i, label in enumerate(labels)
               if page.locator("#seg-features input").nth(i).is_checked()}
    assert checked == wanted


def progress(page) -> float:
    value = page.get_attribute("#seg-progress .progress-bar", "aria-valuenow")
    return float(value) if value not in (None, "") else 0.0


def sweep_job_id(page) -> str:
    text = page.inner_text("#seg-progress-msg")
    return text.split(" · job ")[1].split(" ")[0]


def wait_new_job(env: Env, kind: str, before: set[str], timeout: float = 20) -> dict:
    return wait_for(lambda: next((j for j in env.jobs() if j["kind"] == kind and j["id"] not in before), None),
                    timeout, what=f"a new {kind} job")


# Installed before a timed click: the click's time, and the time of the first animation frame (painted right after)
# in which the selector matches, both on the page's clock.
PAINT_WATCH_JS = """
sel => {
    if (window.__switch) { window.__switch.observer.disconnect(); }  // the previous switch's watch
    const watch = window.__switch = {clicked: null, shown: null};
    document.addEventListener('click', () => { watch.clicked = performance.now(); }, {capture: true, once: true});
    const seen = () => {
        if (watch.clicked === null || watch.shown !== null || !document.querySelector(sel)) { return; }
        watch.observer.disconnect();
        requestAnimationFrame(() => { watch.shown = performance.now(); });
    };
    watch.observer = new MutationObserver(seen);
    watch.observer.observe(document.body, {childList: true, subtree: true});
}
"""


def timed_switch(env: Env, name: str, ready_selector: str, then: str | None = None) -> float:
    """Seconds from the click on a navbar link to the first frame painted with ``ready_selector`` in the page, on
    the page's own clock (recorded in ``switch_times``). Playwright's own wait (``waited``) is printed only: it
    polls on the page's main thread, so while the charts that follow are drawn it can notice content long after it
    was painted. ``then``: a selector that follows later (the Overview's charts), timed for the printout only."""
    env.page.evaluate(PAINT_WATCH_JS, ready_selector)
    start = time.perf_counter()
    env.nav(name)
    env.page.locator(ready_selector).first.wait_for(state="visible", timeout=10_000)
    env.waited_times.append((name, time.perf_counter() - start))
    if then:
        env.page.locator(then).first.wait_for(state="visible", timeout=10_000)
        env.later_times.append((name, time.perf_counter() - start))
    read = "() => ({clicked: window.__switch.clicked, shown: window.__switch.shown})"
    watch = wait_for(lambda: (w := env.page.evaluate(read))["shown"] is not None and w, 5,
                     what=f"the {name} page's paint time")
    elapsed = (watch["shown"] - watch["clicked"]) / 1000
    env.switch_times.append((name, elapsed))
    return elapsed


def membership_from_csv(text: bytes) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(text), dtype={"customer_id": str})
    return frame.set_index("customer_id")


# ---- a. the demo, end to end ---------------------------------------------------------------------------------

def test_a_demo_overview_sweep_kmeans_insights_download(env):
    page = env.page
    env.goto("/")
    page.locator("#local-mode-badge").wait_for()
    assert page.inner_text("#local-mode-badge") == "local mode"
    page.click("#data-demo")
    page.locator("#data-ingest-ok").wait_for(timeout=60_000)
    demo = env.demo()
    page.locator(f'#data-datasets-table tr[data-dataset="{demo["id"]}"] .badge').wait_for()
    page.locator("#data-bridge").wait_for()
    env.shot("data")

    # Overview: the KPI cards show the describe result of the same dataset and rules.
    env.nav("overview")
    page.locator(".kpi-card .kpi-value").first.wait_for(timeout=60_000)
    describe_job = next(j for j in env.jobs() if j["kind"] == "describe" and j["dataset_id"] == demo["id"])
    summary = env.client.result(describe_job["id"], "describe", team=TEAM)
    s, otr = summary["summary"], summary["one_time_vs_repeat"]
    assert s["customers"] == demo["customers"]
    kpis = kpi_values(page)
    assert kpis["Customers"] == f"{s['customers']:,}"
    assert kpis["Orders"] == f"{s['orders']:,}"
    assert kpis["Revenue"] == money(s["revenue"])
    assert kpis["Average order value"] == money(s["average_order_value"])
    assert kpis["Average purchase value per customer"] == money(s["average_purchase_value_per_customer"])
    assert kpis["One-time vs repeat customers"] == f"{otr['one_time_pct']:.1f} % / {otr['repeat_pct']:.1f} %"
    top = summary["revenue_contribution"]["top_20pct_share"]
    assert f"{top * 100:.1f} %" in page.inner_text("#ov-top20")
    assert page.locator("#ov-charts .js-plotly-plot").count() == 7
    env.shot("overview")

    # Segments: a small sweep; the progress bar moves; the charts and the recommended k appear.
    env.nav("segments")
    page.locator("#seg-features input").first.wait_for()
    set_k_range(page, 2, 8)
    set_advanced(page, n_init=3)
    before = {j["id"] for j in env.jobs()}
    page.click("#seg-run-sweep")
    seen = []
    deadline = time.time() + 120
    while time.time() < deadline and not page.locator("#seg-recommended-k").count():
        seen.append(progress(page))
        page.wait_for_timeout(150)
    sweep = wait_new_job(env, "sweep", before)
    assert sweep["params"]["k_values"] == list(range(2, 9)) and sweep["params"]["n_init"] == 3
    result = env.client.result(sweep["id"], "sweep", team=TEAM)
    rec = result["recommendation"]["k"]
    moving = [v for i, v in enumerate(seen) if i == 0 or v != seen[i - 1]]
    print(f"\nsweep progress seen in the page: {moving} (then done)")
    assert any(0 < v < 100 for v in moving), moving  # it showed a part of the sweep done ...
    assert moving == sorted(moving)  # ... and only ever moved forward
    assert progress(page) == 100
    assert page.inner_text("#seg-recommended-k") == f"Recommended k = {rec}"
    assert result["recommendation"]["reason"][:60] in page.inner_text("#seg-recommendation-reason")
    assert page.locator("#seg-sweep-charts .js-plotly-plot").count() == 5
    assert page.input_value("#seg-k") == str(rec)
    env.shot("segments")

    # K-means at the recommended k, then its insights and the membership CSV.
    before = {j["id"] for j in env.jobs()}
    page.click("#seg-run-cluster")
    page.locator("#seg-insights-link").wait_for(timeout=60_000)
    cluster = wait_new_job(env, "cluster", before)
    assert cluster["params"]["k"] == rec
    page.click("#seg-insights-link")
    page.locator("#ins-download-csv").wait_for(timeout=30_000)
    assert page.url.endswith(f"/results/{cluster['id']}")
    page.locator("#ins-scatter .js-plotly-plot").wait_for()
    page.locator("#ins-dist .js-plotly-plot").wait_for()
    assert page.locator("#ins-content .js-plotly-plot").count() >= 9
    assert page.locator(".advice-card").count() == rec
    env.shot("insights")
    download = env.download("#ins-download-csv")
    assert download.suggested_filename == f"segments-{cluster['id']}-membership.csv"
    got = membership_from_csv(open(download.path(), "rb").read())
    want = env.client.result(cluster["id"], "membership", team=TEAM)
    want.index = want.index.astype(str)
    assert len(got) == len(want) == demo["customers"]
    assert got["segment"].sort_index().tolist() == want["segment"].sort_index().tolist()
    assert got.loc[want.index, "segment_name"].tolist() == want["segment_name"].tolist()
    report = env.download("#ins-download-report")
    html = open(report.path(), encoding="utf-8").read()
    assert "<html" in html.lower() and cluster["id"] in html
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", html)  # self-contained
    env.cluster_job = cluster["id"]

    env.nav("jobs")
    page.locator(f'#jobs-list tr[data-job="{cluster["id"]}"]').wait_for()
    assert page.locator("#jobs-list tr[data-job]").count() == len(env.jobs())
    env.shot("jobs")


# ---- b. a customer-level file --------------------------------------------------------------------------------

def test_b_customer_level_upload_and_city_segments(env, ecommerce_path):
    page = env.page
    env.goto("/")
    page.locator("#data-datasets-table").wait_for()
    page.set_input_files("#data-upload input[type=file]", str(ecommerce_path))
    page.locator("#data-ingest-ok", has_text=ecommerce_path.name).wait_for(timeout=60_000)
    meta = next(d for d in env.datasets() if d["name"] == ecommerce_path.name)
    assert meta["shape"] == "customers"
    page.locator(f'#data-datasets-table tr[data-dataset="{meta["id"]}"] .badge').wait_for()

    env.nav("overview")
    page.locator("#ov-unavailable-list").wait_for(timeout=60_000)
    describe_job = next(j for j in env.jobs() if j["kind"] == "describe" and j["dataset_id"] == meta["id"])
    unavailable = env.client.result(describe_job["id"], "describe", team=TEAM)["unavailable"]
    text = page.inner_text("#ov-unavailable-list")
    assert {"frequency_distribution", "seasonality", "cohorts"} <= {u["analysis"] for u in unavailable}
    for item in unavailable:
        assert item["analysis"] in text and item["reason"] in text
    assert kpi_values(page)["Customers"] == "350"
    env.shot("overview-customer-level")

    env.nav("segments")
    page.locator("#seg-features input").first.wait_for()
    page.locator("#seg-dataset-note", has_text="ecommerce").wait_for()
    choose_features(page, {"Total_Spend", "Items_Purchased"})
    page.click("#seg-log label:has-text('none')")
    page.fill("#seg-k", "4")
    before = {j["id"] for j in env.jobs()}
    page.click("#seg-run-cluster")
    page.locator("#seg-insights-link").wait_for(timeout=60_000)
    cluster = wait_new_job(env, "cluster", before)
    assert cluster["params"]["features"] == ["Total_Spend", "Items_Purchased"] and cluster["params"]["log"] is None
    page.click("#seg-insights-link")
    page.locator("#ins-download-csv").wait_for()
    page.locator(".advice-card").first.wait_for()
    assert page.locator(".advice-card").count() == 4
    env.shot("insights-customer-level")
    got = membership_from_csv(open(env.download("#ins-download-csv").path(), "rb").read())
    raw = pd.read_csv(ecommerce_path, dtype={"Customer_ID": str}).set_index("Customer_ID")
    cities = raw.loc[got.index, "City"]
    groups = {frozenset(group) for group in cities.groupby(got["segment"]).agg(set)}
    assert groups == CITY_GROUPS


# ---- c. a broken file ----------------------------------------------------------------------------------------

def test_c_broken_file_names_the_problem_and_changes_nothing(env, tmp_path):
    page = env.page
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x03\x00\x3e\x00" + bytes(range(256)) * 8)
    env.goto("/")
    page.locator("#data-datasets-table").wait_for()
    rows_before = page.locator("#data-datasets-table tr[data-dataset]").count()
    datasets_before = [d["id"] for d in env.datasets()]
    selected_before = page.inner_text("#nav-dataset")
    page.set_input_files("#data-upload input[type=file]", str(broken))
    page.locator("#data-ingest-error", has_text="broken.csv").wait_for(timeout=60_000)
    message = page.inner_text("#data-ingest-error")
    # Refused by the cheap checks before anything was stored or queued: no ingest job at all.
    assert not any(j["kind"] == "ingest" and j["params"].get("name") == "broken.csv" for j in env.jobs())
    assert "Could not import broken.csv." in message and "binary" in message
    env.shot("data-broken-file")
    page.wait_for_timeout(1500)  # another poll: still nothing new
    assert [d["id"] for d in env.datasets()] == datasets_before
    assert page.locator("#data-datasets-table tr[data-dataset]").count() == rows_before
    assert page.inner_text("#nav-dataset") == selected_before

    # Too large for MAX_UPLOAD_MB=5: refused in the browser with a message, nothing is sent.
    big = tmp_path / "big.csv"
    big.write_bytes(b"customer_id,amount\n" + b"1,2\n" * (6 * 2**20 // 4))
    jobs_before = len(env.jobs())
    page.set_input_files("#data-upload input[type=file]", str(big))
    page.locator("#data-size-msg.alert").wait_for()
    assert "above the upload limit of 5 MB" in page.inner_text("#data-size-msg")
    page.wait_for_timeout(500)
    assert len(env.jobs()) == jobs_before


# ---- d + e. reload mid-sweep, page switches while it runs ----------------------------------------------------

def test_d_e_reload_mid_sweep_and_fast_page_switches(env):
    page = env.page
    demo = env.demo()
    env.select_dataset(demo["id"])
    env.nav("segments")
    page.locator("#seg-features input").first.wait_for()
    page.locator("#seg-dataset-note", has_text="Demo").wait_for()
    set_k_range(page, 2, 12)
    set_advanced(page, n_init=10, stability=3)
    before = {j["id"] for j in env.jobs()}
    page.click("#seg-run-sweep")
    sweep = wait_new_job(env, "sweep", before)
    page.locator("#seg-progress-msg", has_text="running").wait_for()

    # e. switch pages while the sweep runs (two worker processes busy on two cores)
    for _ in range(2):
        timed_switch(env, "overview", ".kpi-card .kpi-value", then="#ov-charts .js-plotly-plot")
        timed_switch(env, "jobs", f'#jobs-list tr[data-job="{sweep["id"]}"]')
        timed_switch(env, "data", "#data-datasets-table")
    timed_switch(env, "overview", ".kpi-card .kpi-value", then="#ov-charts .js-plotly-plot")
    status = env.client.status(sweep["id"], team=TEAM)
    print("\npage switches during the sweep (s, click to the first frame painted with the content): "
          + ", ".join(f"{n} {t:.2f}" for n, t in env.switch_times)
          + "\nthe same, as Playwright's wait saw them (s): " + ", ".join(f"{n} {t:.2f}" for n, t in env.waited_times)
          + "\nOverview until its first chart is drawn (s): " + ", ".join(f"{t:.2f}" for _, t in env.later_times)
          + f"\nsweep at {status['progress_done']}/{status['progress_total']} ({status['status']}) after them")
    assert status["status"] == "running", "the sweep finished before the page switches were measured"
    overview_times = [t for n, t in env.switch_times if n == "overview"]
    assert max(overview_times) < PAGE_SWITCH_LIMIT, env.switch_times
    assert max(t for _, t in env.switch_times) < PAGE_SWITCH_LIMIT, env.switch_times
    assert max(t for _, t in env.waited_times) < WAITED_LIMIT, env.waited_times

    # d. reload mid-sweep: the same job, with its live progress
    env.nav("segments")
    page.locator("#seg-progress-msg", has_text=sweep["id"]).wait_for()
    page.reload()
    page.locator("#seg-progress-msg", has_text=sweep["id"]).wait_for()
    assert env.client.status(sweep["id"], team=TEAM)["status"] in ("queued", "running")
    first = progress(page)
    env.shot("segments-mid-sweep")

    # ... and another browser (no local storage): the jobs list and the shareable link show it too
    other = env.browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        second = other.new_page()
        env.watcher.watch(second)
        second.goto(env.app.url + "/jobs")
        second.locator(f'#jobs-list tr[data-job="{sweep["id"]}"][data-status="running"]').wait_for(timeout=10_000)
        second.goto(env.app.url + f"/results/{sweep['id']}")
        second.locator("#seg-progress-msg", has_text=sweep["id"]).wait_for()
        second.locator("#seg-recommended-k").wait_for(timeout=120_000)
    finally:
        other.close()

    page.locator("#seg-recommended-k").wait_for(timeout=120_000)
    assert progress(page) == 100 > first
    rec = env.client.result(sweep["id"], "sweep", team=TEAM)["recommendation"]["k"]
    assert page.inner_text("#seg-recommended-k") == f"Recommended k = {rec}"
    page.wait_for_timeout(1500)  # polling has stopped: no job is active any more
    assert not any(j["status"] in ("queued", "running") for j in env.jobs())


# ---- downloads and results of another team -------------------------------------------------------------------

def test_another_teams_job_is_not_found(env, ecommerce_path):
    client = env.client
    ingest = env.wait_job(client.add_file(ecommerce_path, owner="eve", team="other")["id"], team="other")
    dataset_id = ingest["result_keys"]["dataset"]
    job = client.submit("cluster", dataset_id, {"k": 2, "n_init": 1}, owner="eve", team="other")
    assert env.wait_job(job["id"], team="other")["status"] == "done"
    for name in ("membership.csv", "report.html"):
        status, _, _ = http_get(f"{env.app.url}/download/{job['id']}/{name}")
        assert status == 404, name
        status, body, headers = http_get(f"{env.app.url}/download/{env.cluster_job}/{name}")
        assert status == 200 and "attachment" in headers.get("Content-Disposition", ""), name
    env.goto(f"/results/{job['id']}")
    env.page.locator("#results-not-found").wait_for()
    assert job["id"] in env.page.inner_text("#results-not-found")


# ---- f. console errors and screenshots -----------------------------------------------------------------------

def test_f_every_page_without_console_errors(env):
    page = env.page
    for path, ready, name in (("/", "#data-datasets-table", None), ("/overview", ".kpi-card", None),
                              ("/segments", "#seg-features input", None), ("/insights", "#ins-download-csv", None),
                              ("/jobs", "#jobs-list", None), (f"/results/{env.cluster_job}", "#ins-download-csv",
                                                              "results"), ("/no-such-page", "text=Page not found",
                                                                           "not-found")):
        env.goto(path)
        page.locator(ready).first.wait_for()
        page.wait_for_timeout(500)
        if name:
            env.shot(name)
    shots = sorted(p.name for p in SCREENSHOTS.glob("*.png"))
    print("\nscreenshots: " + ", ".join(shots))
    for needed in ("data", "overview", "segments", "insights", "jobs", "results"):
        assert f"{needed}.png" in shots
    assert env.watcher.errors == [], "\n".join(env.watcher.errors)

