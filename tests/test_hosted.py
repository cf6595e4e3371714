"""Hosted mode: sign-in, one team per user, and no per-process state.

In-process (Flask test client, a fake queue): the settings and their refusals (no ``SECRET_KEY``), the users file
and ``python -m webapp users``, the guard on every kind of endpoint, the sign-in and sign-out forms, cookie flags,
sessions ending when a user is removed, the navbar, the per-team job limit's message on the pages, and local mode
staying sign-in free.

Against the real thing: a redis-server, a Celery worker, and the web app under gunicorn with 2 processes
(``gunicorn --config gunicorn.conf.py webapp.wsgi:server``, as compose runs it) with a users file of two teams
(A: alice, B: bob): anonymous requests get 401 or the sign-in page; alice sees her datasets and jobs; bob cannot
reach alice's dataset, job, result or download by id, by URL or by a crafted callback; a wrong password is
refused; both gunicorn processes (told apart by the pid in the access log) answer the same job list; gunicorn
refuses to start hosted mode without ``SECRET_KEY``; ``python -m webapp`` without hosted settings has no sign-in.
In CI (``CI=true``) nothing skips (a missing ``redis-server`` fails).
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import requests

from tests.browser_helpers import ConsoleWatcher, launch_chromium, require_browser, screenshot
from tests.services import REPO, RedisServer, Worker, free_port, wait_for, worker_env
from tests.test_webapp import DEMO_META, FakeClient, _split_outputs, call, make_job
from webapp import users
from webapp.app import create_app
from webapp.auth import HostedModeError, hosted_settings
from webapp.identity import Identity, TeamClient, current_identity, local_mode
from workers.client import Client, TooManyJobs
from workers.config import load_settings

SECRET = "test-secret-key-for-hosted-mode-0123456789"
PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-22"}
TEAMS = {"alice": "A", "bob": "B"}
HOSTED_VARS = ("HOSTED_MODE", "USERS_FILE", "SECRET_KEY", "SESSION_COOKIE_INSECURE")
FINAL = ("done", "failed", "cancelled")


def make_users_file(path: Path) -> Path:
    for name, password in PASSWORDS.items():
        users.add_user(path, name, TEAMS[name], password)
    return path


@pytest.fixture(scope="module")
def users_file(tmp_path_factory) -> Path:
    return make_users_file(tmp_path_factory.mktemp("users") / "users.json")


@pytest.fixture
def hosted_env(monkeypatch, users_file):
    def set_env(**extra):
        for name in HOSTED_VARS:
            monkeypatch.delenv(name, raising=False)
        env = {"HOSTED_MODE": "1", "USERS_FILE": str(users_file), "SECRET_KEY": SECRET, **extra}
        for name, value in env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        return env

    return set_env


# ---- a fake queue with two teams -----------------------------------------------------------------------------

A_JOB, B_JOB, A_DESCRIBE = "a1a1a1a1a1a1a1a1", "b2b2b2b2b2b2b2b2", "a3a3a3a3a3a3a3a3"


def two_team_client() -> FakeClient:
    membership = pd.DataFrame({"segment": [0, 1], "segment_name": ["Champions", "Lapsed"]},
                              index=pd.Index(["c1", "c2"], name="customer_id"))
    segments = {"k": 2, "profiles": {"names": {"0": "Champions", "1": "Lapsed"}}}
    return FakeClient(
        jobs=[make_job(A_JOB, "cluster", team="A", dataset_id="da", params={"k": 2}),
              make_job(A_DESCRIBE, "describe", team="A", dataset_id="da"),
              make_job(B_JOB, "cluster", team="B", dataset_id="db", params={"k": 2})],
        datasets=[{**DEMO_META, "id": "da", "team": "A", "name": "Alice's shop"},
                  {**DEMO_META, "id": "db", "team": "B", "name": "Bob's shop"}],
        results={(A_JOB, "membership"): membership, (A_JOB, "segments"): segments,
                 (B_JOB, "membership"): membership, (B_JOB, "segments"): segments})


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:2000]
    return match.group(1)


def cancel_via_callback(server, job_id: str) -> str:
    """The Jobs page's Cancel button of ``job_id``, clicked (the callback request a browser would send)."""
    deps = [d for d in server.get("/_dash-dependencies").get_json() if "jobs-msg.children" in d["output"]]
    assert len(deps) == 1
    ident = {"id": job_id, "type": "cancel-job"}
    body = {"output": deps[0]["output"], "outputs": _split_outputs(deps[0]["output"]),
            "inputs": [[{"id": ident, "property": "n_clicks", "value": 1}]], "state": [],
            "changedPropIds": [json.dumps(ident, separators=(",", ":")) + ".n_clicks"]}
    response = server.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.data[:1000]
    return json.dumps(response.get_json()["response"])


def flask_sign_in(server, user: str, password: str | None = None, next_path: str = "/"):
    page = server.get("/login")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    return server.post("/login", data={"csrf_token": token, "username": user, "next": next_path,
                                       "password": PASSWORDS[user] if password is None else password})


@pytest.fixture
def hosted_app(hosted_env):
    hosted_env(SESSION_COOKIE_INSECURE="1")
    client = two_team_client()
    app = create_app(client)
    return app, client


# ---- settings ------------------------------------------------------------------------------------------------

def test_hosted_mode_is_off_unless_configured(users_file):
    assert hosted_settings({}) is None
    assert hosted_settings({"HOSTED_MODE": "0", "USERS_FILE": str(users_file)}) is None
    settings = hosted_settings({"USERS_FILE": str(users_file), "SECRET_KEY": SECRET})
    assert settings.users_file == users_file and settings.cookie_secure
    assert SECRET not in repr(settings)
    settings = hosted_settings({"HOSTED_MODE": "yes", "USERS_FILE": str(users_file), "SECRET_KEY": SECRET,
                                "SESSION_COOKIE_INSECURE": "1"})
    assert settings.cookie_secure is False


@pytest.mark.parametrize("env, variable", [
    ({"HOSTED_MODE": "1"}, "USERS_FILE"),
    ({"HOSTED_MODE": "1", "USERS_FILE": "{users}"}, "SECRET_KEY"),
    ({"USERS_FILE": "{users}", "SECRET_KEY": "   "}, "SECRET_KEY"),
    ({"USERS_FILE": "{users}", "SECRET_KEY": "short"}, "SECRET_KEY"),
    ({"HOSTED_MODE": "maybe", "USERS_FILE": "{users}", "SECRET_KEY": SECRET}, "HOSTED_MODE"),
    ({"USERS_FILE": "{users}", "SECRET_KEY": SECRET, "SESSION_COOKIE_INSECURE": "perhaps"}, "SESSION_COOKIE_INSECURE"),
    ({"USERS_FILE": "{broken}", "SECRET_KEY": SECRET}, "USERS_FILE"),
], ids=["no-users-file", "no-secret", "blank-secret", "short-secret", "bad-flag", "bad-cookie-flag", "broken-file"])
def test_hosted_mode_refuses_to_start_misconfigured(env, variable, users_file, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"alice": {"team": "A"}}')
    env = {k: v.format(users=users_file, broken=broken) for k, v in env.items()}
    with pytest.raises(HostedModeError, match=variable):
        hosted_settings(env)


def test_create_app_without_secret_key_fails_with_the_message(hosted_env):
    hosted_env(SECRET_KEY=None)
    with pytest.raises(HostedModeError, match="environment variable SECRET_KEY"):
        create_app(FakeClient())


def test_python_m_webapp_without_secret_key_exits_with_the_message(users_file):
    env = {k: v for k, v in os.environ.items() if k not in HOSTED_VARS}
    env.update(HOSTED_MODE="1", USERS_FILE=str(users_file), PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-m", "webapp", "--port", str(free_port())], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("error: Hosted mode needs the environment variable "
                                                          "SECRET_KEY")


# ---- the users file and its admin command --------------------------------------------------------------------

def run_users(*args, stdin: str | None = None, env_file: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in HOSTED_VARS}
    env["PYTHONPATH"] = str(REPO)
    if env_file is not None:
        env["USERS_FILE"] = str(env_file)
    return subprocess.run([sys.executable, "-m", "webapp", "users", *args], cwd=REPO, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_users_command_add_list_remove(tmp_path):
    path = tmp_path / "conf" / "users.json"
    added = run_users("add", "carol", "--team", "C", "--password-stdin", stdin="carol-password\n", env_file=path)
    assert added.returncode == 0, added.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert stored["carol"]["team"] == "C" and stored["carol"]["password_hash"].startswith("scrypt:")
    assert "carol-password" not in path.read_text()
    again = run_users("--file", str(path), "add", "carol", "--team", "D", "--password-stdin", stdin="other-pass\n")
    assert again.returncode == 2 and "already exists" in again.stderr
    replaced = run_users("--file", str(path), "add", "carol", "--team", "D", "--password-stdin", "--replace",
                         stdin="other-pass\n")
    assert replaced.returncode == 0 and users.read_users(path)["carol"].team == "D"
    run_users("--file", str(path), "add", "dave", "--team", "C", "--password-stdin", stdin="dave-password\n")
    listing = run_users("list", env_file=path)
    assert listing.returncode == 0 and listing.stdout.split("\n")[:2] == ["dave\tC", "carol\tD"]
    assert "scrypt" not in listing.stdout
    removed = run_users("--file", str(path), "remove", "carol")
    assert removed.returncode == 0 and set(users.read_users(path)) == {"dave"}
    assert run_users("--file", str(path), "remove", "carol").returncode == 2
    # no temporary files left behind; still 0600 after every rewrite
    assert sorted(p.name for p in path.parent.iterdir()) == ["users.json", "users.json.lock"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_users_command_refuses_bad_input(tmp_path):
    path = tmp_path / "users.json"
    short = run_users("--file", str(path), "add", "erin", "--team", "E", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr and not path.exists()
    bad_name = run_users("--file", str(path), "add", "er in", "--team", "E", "--password-stdin", stdin="x" * 10)
    assert bad_name.returncode == 2 and "not a valid user name" in bad_name.stderr
    bad_team = run_users("--file", str(path), "add", "erin", "--team", "E:F", "--password-stdin", stdin="x" * 10)
    assert bad_team.returncode == 2 and "not a valid team name" in bad_team.stderr
    no_tty = run_users("--file", str(path), "add", "erin", "--team", "E", stdin="")
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    nowhere = run_users("list")
    assert nowhere.returncode == 2 and "USERS_FILE" in nowhere.stderr


def test_users_file_formats_and_errors(tmp_path):
    toml_path = tmp_path / "users.toml"
    users.add_user(toml_path, "fay.x@example", "F-1", "fay-password")
    assert users.read_users(toml_path)["fay.x@example"].team == "F-1"
    assert '["fay.x@example"]' in toml_path.read_text()
    for text, problem in (("[1, 2]", "must map"), ("{nope", "not valid JSON"),
                          ('{"a": {"team": "T", "password_hash": "plain"}}', "no password hash"),
                          ('{"a": {"password_hash": "scrypt:x"}}', "no valid team"),
                          ('{"a b": {"team": "T", "password_hash": "scrypt:x"}}', "not a valid user name")):
        with pytest.raises(users.UsersFileError, match=problem):
            users.parse_users(text)
    assert users.read_users(tmp_path / "missing.json") == {}


# ---- the guard -----------------------------------------------------------------------------------------------

DASH_BODY = {"output": "store-jobs.data", "outputs": {"id": "store-jobs", "property": "data"},
             "inputs": [{"id": "url", "property": "pathname", "value": "/"}], "state": [],
             "changedPropIds": ["url.pathname"]}


def test_anonymous_requests_reach_only_the_sign_in_page(hosted_app):
    app, _ = hosted_app
    server = app.server.test_client()
    for path in ("/", "/jobs", f"/results/{A_JOB}", f"/download/{A_JOB}/membership.csv",
                 f"/download/{A_JOB}/report.html", "/anything?x=1"):
        response = server.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=/"), path
        assert b"Champions" not in response.data
    assert server.get(f"/results/{A_JOB}").headers["Location"] == f"/login?next=/results/{A_JOB}"
    for path in ("/_dash-layout", "/_dash-dependencies", "/_reload-hash", "/_favicon.ico",
                 "/_dash-component-suites/dash/deps/polyfill@7.v4_4_1m1.12.1.min.js"):
        response = server.get(path)
        assert response.status_code == 401, path
        assert response.get_json()["error"] == "Sign in first."
    response = server.post("/_dash-update-component", json=DASH_BODY)
    assert response.status_code == 401 and b"store-jobs" not in response.data
    assert server.post("/", data={}).status_code == 401
    # public: the health check, the sign-in page and its stylesheet
    assert server.get("/healthz").status_code == 200
    login = server.get("/login")
    assert login.status_code == 200 and b'id="login-form"' in login.data and b"<title>" in login.data
    assert server.get("/assets/bootstrap.min.css").status_code == 200


def test_sign_in_refuses_wrong_passwords_and_forged_forms(hosted_app):
    app, _ = hosted_app
    server = app.server.test_client()
    wrong = flask_sign_in(server, "alice", "not-her-password")
    assert wrong.status_code == 401 and b"Wrong user name or password." in wrong.data
    assert server.get("/").status_code == 302  # still signed out
    unknown = flask_sign_in(server, "mallory", "whatever-password")
    assert unknown.status_code == 401 and b"Wrong user name or password." in unknown.data
    assert flask_sign_in(server, "bob", PASSWORDS["alice"]).status_code == 401  # another user's password
    forged = app.server.test_client().post("/login", data={"username": "alice", "password": PASSWORDS["alice"]})
    assert forged.status_code == 400 and server.get("/_dash-layout").status_code == 401
    assert b'value="alice"' in forged.data  # the name is kept, escaped; the password is not echoed
    assert PASSWORDS["alice"].encode() not in forged.data


def test_sign_in_goes_back_to_the_page_asked_for_never_elsewhere(hosted_app):
    app, _ = hosted_app
    server = app.server.test_client()
    ok = flask_sign_in(server, "alice", next_path=f"/results/{A_JOB}")
    assert ok.status_code == 302 and ok.headers["Location"] == f"/results/{A_JOB}"
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"):
        other = app.server.test_client()
        response = flask_sign_in(other, "alice", next_path=evil)
        assert response.status_code == 302 and response.headers["Location"] == "/", evil


def test_session_cookie_is_secure_httponly_lax(hosted_env):
    hosted_env()  # no SESSION_COOKIE_INSECURE: Secure
    app = create_app(two_team_client())
    server = app.server.test_client()
    page = server.get("/login")
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("segments_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    # Over plain HTTP a browser drops a Secure cookie: the form then says why instead of "wrong password".
    fresh = app.server.test_client()
    refused = fresh.post("/login", data={"csrf_token": "x", "username": "alice", "password": PASSWORDS["alice"]})
    assert refused.status_code == 400 and b"SESSION_COOKIE_INSECURE" in refused.data
    signed = flask_sign_in(server, "alice")
    assert signed.status_code == 302
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie and "Expires=" in cookie


def test_signed_in_user_sees_only_their_team(hosted_app):
    app, client = hosted_app
    alice = app.server.test_client()
    assert flask_sign_in(alice, "alice").status_code == 302
    assert alice.get("/").status_code == 200
    out = call(alice, "store-jobs.data", {"url.pathname": "/"}, triggered="url.pathname")
    assert {j["id"] for j in out["store-jobs"]["data"]["jobs"]} == {A_JOB, A_DESCRIBE}
    assert [d["id"] for d in out["store-datasets"]["data"]] == ["da"]
    nav = call(alice, "nav-user.children", {"url.pathname": "/"})
    assert "alice" in json.dumps(nav["nav-user"]["children"]) and "team A" in json.dumps(nav)
    assert nav["nav-signout-token"]["value"]
    assert alice.get(f"/download/{A_JOB}/membership.csv").status_code == 200
    # jobs submitted from the page belong to alice of team A
    call(alice, "ov-job.data", {"store-dataset.data": "da", "store-rules.data": {}})
    assert client.calls[-1][0] == "submit" and client.calls[-1][-2:] == ("alice", "A")

    bob = app.server.test_client()
    assert flask_sign_in(bob, "bob").status_code == 302
    out = call(bob, "store-jobs.data", {"url.pathname": "/"}, triggered="url.pathname")
    assert {j["id"] for j in out["store-jobs"]["data"]["jobs"]} == {B_JOB}
    for name in ("membership.csv", "report.html"):
        answer = bob.get(f"/download/{A_JOB}/{name}")
        assert answer.status_code == 404 and b"Champions" not in answer.data
    page = call(bob, "_pages_content.children", {"_pages_location.pathname": f"/results/{A_JOB}",
                                                 "_pages_location.search": ""})
    assert "results-not-found" in json.dumps(page)
    shown = call(bob, "ins-status.children", {"ins-job.data": A_JOB})
    assert "does not exist in your team" in json.dumps(shown) and "Champions" not in json.dumps(shown)
    described = call(bob, "ov-status.children", {"ov-job.data": A_DESCRIBE})
    assert "does not exist in your team" in json.dumps(described)
    assert call(bob, "ov-charts.children", {"ov-painted.data": A_DESCRIBE}) in ({}, {"ov-charts": {"children": ""}})
    submitted = call(bob, "ov-job.data", {"store-dataset.data": "da", "store-rules.data": {}})
    assert "Dataset da does not exist" in json.dumps(submitted)
    client.jobs[A_JOB]["status"] = "running"
    assert "does not exist in your team" in cancel_via_callback(bob, A_JOB)
    assert client.jobs[A_JOB]["status"] == "running"
    assert "is cancelled" in cancel_via_callback(alice, A_JOB)
    assert client.jobs[A_JOB]["status"] == "cancelled"


def test_identity_inside_and_outside_requests(hosted_app):
    app, _ = hosted_app
    assert current_identity() == ("local", "local") and local_mode()  # no app: nothing hosted
    with app.server.test_request_context("/"):
        assert not local_mode()
        with pytest.raises(Exception) as raised:
            current_identity()
        assert getattr(raised.value, "code", None) == 401


def test_reimport_goes_through_the_team_scoped_client():
    """"Import again" names an upload by the content hash the browser keeps; the queue's client checks that the
    team uploaded it (tests/test_jobs.py::test_reimport_with_another_mapping_is_team_scoped proves the refusal)."""
    calls = []

    class Recorder:
        def reimport(self, sha, suffix, name, *, owner, team, mapping=None):
            calls.append((sha, suffix, name, owner, team, mapping))
            return {"id": "j1"}

    TeamClient(Recorder(), Identity("bob", "B")).reimport("x.csv", "ab12", ".csv", mapping={"amount": "Paid"})
    assert calls == [("ab12", ".csv", "x.csv", "bob", "B", {"amount": "Paid"})]


def test_removing_a_user_or_changing_the_password_ends_the_session(hosted_env, tmp_path):
    path = make_users_file(tmp_path / "users.json")
    hosted_env(USERS_FILE=str(path), SESSION_COOKIE_INSECURE="1")
    app = create_app(two_team_client())
    alice, bob = app.server.test_client(), app.server.test_client()
    assert flask_sign_in(alice, "alice").status_code == 302 and flask_sign_in(bob, "bob").status_code == 302
    assert alice.get("/_dash-layout").status_code == 200 and bob.get("/_dash-layout").status_code == 200
    users.remove_user(path, "alice")
    assert alice.get("/_dash-layout").status_code == 401
    users.add_user(path, "bob", "B", "bob-new-password", replace=True)
    assert bob.get("/_dash-layout").status_code == 401
    assert flask_sign_in(bob, "bob").status_code == 401
    assert flask_sign_in(bob, "bob", "bob-new-password").status_code == 302


def test_sign_out(hosted_app):
    app, _ = hosted_app
    server = app.server.test_client()
    assert flask_sign_in(server, "alice").status_code == 302
    token = call(server, "nav-user.children", {"url.pathname": "/"})["nav-signout-token"]["value"]
    asked = server.get("/logout")  # a plain GET (e.g. from another site) only asks
    assert asked.status_code == 200 and b'id="logout-form"' in asked.data
    assert server.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert server.get("/_dash-layout").status_code == 200
    done = server.post("/logout", data={"csrf_token": token})
    assert done.status_code == 302 and done.headers["Location"] == "/login?signed_out=1"
    assert server.get("/_dash-layout").status_code == 401
    assert server.get("/").status_code == 302


def test_navbar_and_validation_layout_hold_nobody_s_name(hosted_app):
    """Dash sends a validation copy of every layout to every browser: who is signed in comes by callback."""
    app, _ = hosted_app
    alice = app.server.test_client()
    flask_sign_in(alice, "alice")
    layout = alice.get("/_dash-layout")
    assert layout.status_code == 200
    text = layout.get_data(as_text=True)
    assert "nav-user" in text and "nav-signout-form" in text and "local mode" not in text and "alice" not in text
    bob = app.server.test_client()
    flask_sign_in(bob, "bob")
    index = bob.get("/").get_data(as_text=True)
    assert "alice" not in index and "Alice" not in index
    assert "window.location.assign(\"/login?next=\"" in index  # an ended session goes to the sign-in page
    headers = bob.get("/").headers
    assert headers["Cache-Control"] == "no-store" and headers["X-Frame-Options"] == "SAMEORIGIN"


def test_too_many_jobs_message_reaches_the_pages(hosted_app):
    app, client = hosted_app
    message = "Your team already has 4 jobs queued or running, the most allowed at once; wait for one to finish."

    def refuse(*_args, **_kwargs):
        raise TooManyJobs(message)

    client.submit = client.add_upload = client.add_demo = refuse
    server = app.server.test_client()
    flask_sign_in(server, "alice")
    context = {"dataset": "da", "rules": {}}
    outs = [
        call(server, "ov-job.data", {"store-dataset.data": "da", "store-rules.data": {}}),
        call(server, "data-describe-job.data", {"store-dataset.data": "da", "store-rules.data": {}}),
        call(server, "seg-sweep-job.data", {"seg-run-sweep.n_clicks": 1, "seg-features.value": ["monetary"],
                                            "seg-log.value": "none", "seg-scaling.value": "standard",
                                            "seg-k-range.value": [2, 4], "seg-context.data": context}),
        call(server, "seg-cluster-job.data", {"seg-run-cluster.n_clicks": 1, "seg-features.value": ["monetary"],
                                              "seg-log.value": "none", "seg-scaling.value": "standard",
                                              "seg-k.value": 3, "seg-context.data": context}),
        call(server, "data-ingest.data", {"data-demo.n_clicks": 1}),
    ]
    for out in outs:
        assert message in json.dumps(out), out


def test_local_mode_has_no_sign_in(monkeypatch):
    for name in HOSTED_VARS:
        monkeypatch.delenv(name, raising=False)
    app = create_app(FakeClient())
    server = app.server.test_client()
    assert server.get("/").status_code == 200
    layout = server.get("/_dash-layout")
    assert layout.status_code == 200 and "local mode" in layout.get_data(as_text=True)
    assert "nav-signout" not in layout.get_data(as_text=True)
    assert server.get("/login").status_code == 200 and b"login-form" not in server.get("/login").data
    out = call(server, "store-jobs.data", {"url.pathname": "/"}, triggered="url.pathname")
    assert out["store-datasets"]["data"][0]["id"] == "d1"
    with app.server.test_request_context("/"):
        assert local_mode() and current_identity() == Identity("local", "local")


# ---- the real thing: Redis, a Celery worker, gunicorn with 2 processes ----------------------------------------

class Http:
    """A ``requests`` session that looks like Flask's test client to :func:`tests.test_webapp.call`."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.probe: str | None = None

    def get(self, path: str, **kwargs):
        return Answer(self.session.get(self.base + path, allow_redirects=False, timeout=60, **kwargs))

    def post(self, path: str, json=None, data=None, content_type=None, **kwargs):
        if self.probe:
            path += f"?probe={self.probe}"
        headers = {"Content-Type": content_type} if content_type else {}
        return Answer(self.session.post(self.base + path, json=json, data=data, headers=headers,
                                        allow_redirects=False, timeout=60, **kwargs))

    def sign_in(self, user: str, password: str | None = None) -> requests.Response:
        token = csrf_from(self.session.get(self.base + "/login", timeout=30).text)
        return self.session.post(self.base + "/login", timeout=30, allow_redirects=False, data={
            "csrf_token": token, "username": user, "password": PASSWORDS[user] if password is None else password,
            "next": "/"})


class Answer:
    def __init__(self, response: requests.Response) -> None:
        self.response = response
        self.status_code = response.status_code
        self.data = response.content
        self.headers = response.headers

    def get_json(self):
        return self.response.json()


class Gunicorn:
    """``gunicorn --config gunicorn.conf.py webapp.wsgi:server`` (the compose ``web`` command) with 2 processes
    and an access log that names the process of each request."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.port = free_port()
        self.access_log = folder / "access.log"
        self.log = folder / "gunicorn.log"
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "GUNICORN_WORKERS": "2",
                    "GUNICORN_THREADS": "2"}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Gunicorn:
        out = open(self.log, "ab")  # noqa: SIM115 - closed with the process
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.proc = subprocess.Popen(
            [str(gunicorn), "--config", "gunicorn.conf.py", "--access-logfile", str(self.access_log),
             "--access-logformat", "%(p)s %(m)s %(U)s?%(q)s %(s)s", "webapp.wsgi:server"],
            cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def output(self, tail: int | None = 5000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return text[-tail:] if tail else text

    def wait_ready(self, timeout: float = 120) -> Gunicorn:
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.proc.returncode}:\n{self.output()}")
            try:
                return requests.get(self.url + "/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_for(ready, timeout, interval=0.5, what="gunicorn")
        return self

    def pids_by_probe(self) -> dict[str, str]:
        found = {}
        for line in self.access_log.read_text().splitlines():
            match = re.match(r"<(\d+)> POST /_dash-update-component\?probe=(\S+) ", line)
            if match:
                found[match.group(2)] = match.group(1)
        return found

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(10)


class HostedStack:
    """Redis, one worker, the two teams' datasets and jobs, and gunicorn in hosted mode."""

    def __init__(self, folder: Path, users_path: Path) -> None:
        self.folder = folder
        self.redis = RedisServer(folder / "redis").start()
        self.env = worker_env(self.redis.url, folder / "data", TEAM_MAX_ACTIVE_JOBS="10")
        self.client = Client(load_settings(self.env))
        self.worker: Worker | None = None
        self.web: Gunicorn | None = None
        self.web_env = {**self.env, "HOSTED_MODE": "1", "USERS_FILE": str(users_path), "SECRET_KEY": SECRET,
                        "SESSION_COOKIE_INSECURE": "1"}
        self.ids: dict[str, str] = {}

    def wait(self, job: dict, team: str) -> dict:
        done = wait_for(lambda: (j := self.client.status(job["id"], team=team))["status"] in FINAL and j, 180,
                        what=f"job {job['id']}")
        assert done["status"] == "done", done
        return done

    def prepare(self) -> None:
        self.worker = Worker(self.env, concurrency=1, log=self.folder / "worker.log").start()
        self.worker.wait_ready(self.client)
        a = self.wait(self.client.add_demo(owner="alice", team="A", rows=5_000, seed=0), "A")
        b = self.wait(self.client.add_demo(owner="bob", team="B", rows=3_000, seed=2), "B")
        self.ids["a_ingest"], self.ids["b_ingest"] = a["id"], b["id"]
        self.ids["a_dataset"], self.ids["b_dataset"] = a["result_keys"]["dataset"], b["result_keys"]["dataset"]
        assert self.ids["a_dataset"] != self.ids["b_dataset"]
        self.ids["a_describe"] = self.wait(self.client.submit("describe", self.ids["a_dataset"], {}, owner="alice",
                                                              team="A"), "A")["id"]
        self.ids["a_cluster"] = self.wait(self.client.submit("cluster", self.ids["a_dataset"], {"k": 3, "n_init": 1},
                                                             owner="alice", team="A"), "A")["id"]
        self.ids["b_describe"] = self.wait(self.client.submit("describe", self.ids["b_dataset"], {}, owner="bob",
                                                              team="B"), "B")["id"]

    def close(self) -> None:
        if self.web:
            self.web.stop()
        if self.worker:
            self.worker.kill()
        self.redis.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, users_file):
    folder = tmp_path_factory.mktemp("hosted")
    s = HostedStack(folder, users_file)
    try:
        s.web = Gunicorn(s.web_env, folder).start()  # starts while the jobs run
        s.prepare()
        s.web.wait_ready()
        yield s
    finally:
        s.close()


def jobs_and_datasets(http: Http) -> tuple[list[str], list[str]]:
    out = call(http, "store-jobs.data", {"url.pathname": "/"}, triggered="url.pathname")
    return [j["id"] for j in out["store-jobs"]["data"]["jobs"]], [d["id"] for d in out["store-datasets"]["data"]]


def test_real_anonymous_requests_get_401_or_the_sign_in_page(stack):
    base, ids = stack.web.url, stack.ids
    for path in ("/", "/jobs", f"/results/{ids['a_cluster']}", f"/download/{ids['a_cluster']}/membership.csv",
                 f"/download/{ids['a_cluster']}/report.html"):
        answer = requests.get(base + path, allow_redirects=False, timeout=30)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next="), path
        followed = requests.get(base + path, timeout=30)
        assert followed.status_code == 200 and 'id="login-form"' in followed.text, path
        assert "customer_id" not in followed.text and ids["a_dataset"] not in followed.text
    for path in ("/_dash-layout", "/_dash-dependencies"):
        assert requests.get(base + path, timeout=30).status_code == 401, path
    answer = requests.post(base + "/_dash-update-component", json=DASH_BODY, timeout=30)
    assert answer.status_code == 401 and ids["a_cluster"] not in answer.text
    health = requests.get(base + "/healthz", timeout=30)
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_real_wrong_password_is_refused(stack):
    http = Http(stack.web.url)
    answer = http.sign_in("alice", "wrong-password")
    assert answer.status_code == 401 and "Wrong user name or password." in answer.text
    assert http.get("/_dash-layout").status_code == 401
    assert http.get("/").status_code == 302


def test_real_alice_sees_her_datasets_jobs_and_results(stack):
    ids = stack.ids
    alice = Http(stack.web.url)
    assert alice.sign_in("alice").status_code == 302
    assert alice.get("/").status_code == 200
    jobs, datasets = jobs_and_datasets(alice)
    assert datasets == [ids["a_dataset"]]
    assert {ids["a_ingest"], ids["a_describe"], ids["a_cluster"]} <= set(jobs)
    assert not {ids["b_ingest"], ids["b_describe"]} & set(jobs)
    csv = alice.get(f"/download/{ids['a_cluster']}/membership.csv")
    assert csv.status_code == 200
    frame = pd.read_csv(io.StringIO(csv.data.decode()))
    assert len(frame) == stack.client.dataset(ids["a_dataset"], team="A")["customers"]
    assert alice.get(f"/download/{ids['a_cluster']}/report.html").status_code == 200
    page = call(alice, "_pages_content.children", {"_pages_location.pathname": f"/results/{ids['a_cluster']}",
                                                   "_pages_location.search": ""})
    assert ids["a_cluster"] in json.dumps(page) and "results-not-found" not in json.dumps(page)
    shown = call(alice, "ov-status.children", {"ov-job.data": ids["a_describe"]})
    assert shown["ov-rendered"]["data"] == ids["a_describe"]


def test_real_bob_cannot_reach_alices_dataset_job_result_or_download(stack):
    ids = stack.ids
    bob = Http(stack.web.url)
    assert bob.sign_in("bob").status_code == 302
    jobs, datasets = jobs_and_datasets(bob)
    assert datasets == [ids["b_dataset"]] and set(jobs) == {ids["b_ingest"], ids["b_describe"]}
    for name in ("membership.csv", "report.html"):
        answer = bob.get(f"/download/{ids['a_cluster']}/{name}")
        assert answer.status_code == 404 and b"customer_id" not in answer.data
    # the shareable URL: the page shell is the same for everyone; its content says "not in your team"
    assert bob.get(f"/results/{ids['a_cluster']}").status_code == 200
    for job in ("a_cluster", "a_describe", "a_ingest"):
        page = call(bob, "_pages_content.children", {"_pages_location.pathname": f"/results/{ids[job]}",
                                                     "_pages_location.search": ""})
        assert "results-not-found" in json.dumps(page), job
    # callbacks crafted with alice's ids
    shown = json.dumps(call(bob, "ins-status.children", {"ins-job.data": ids["a_cluster"]}))
    assert "does not exist in your team" in shown and "Download" not in shown
    described = call(bob, "ov-status.children", {"ov-job.data": ids["a_describe"]})
    assert "does not exist in your team" in json.dumps(described)
    assert described.get("ov-kpis", {}).get("children") in (None, "")
    forged_jobs = {"jobs": [{**stack.client.status(ids["a_describe"], team="A"), "result_keys": {}}]}
    forged = call(bob, "ov-status.children", {"ov-job.data": ids["a_describe"], "store-jobs.data": forged_jobs})
    assert "missing" in json.dumps(forged) and forged.get("ov-rendered", {}).get("data") is None
    charts = call(bob, "ov-charts.children", {"ov-painted.data": ids["a_describe"]})
    assert '"Graph"' not in json.dumps(charts)
    submitted = call(bob, "ov-job.data", {"store-dataset.data": ids["a_dataset"], "store-rules.data": {}})
    assert f"Dataset {ids['a_dataset']} does not exist" in json.dumps(submitted)
    sweep = call(bob, "seg-sweep-section.style", {"seg-sweep-job.data": ids["a_cluster"]})
    assert sweep["seg-sweep-section"]["style"] == {"display": "none"} and sweep["seg-sweep-rendered"]["data"] is None
    # nothing of bob's reached team A
    assert {j["owner"] for j in stack.client.list_jobs(team="A", limit=100)["jobs"]} == {"alice"}


def test_real_both_processes_serve_the_same_job_list(stack):
    ids = stack.ids
    alice = Http(stack.web.url)
    assert alice.sign_in("alice").status_code == 302
    # a job submitted through whichever process answers...
    out = call(alice, "ov-job.data", {"store-dataset.data": ids["a_dataset"],
                                      "store-rules.data": {ids["a_dataset"]: {"duplicates": True}}})
    new_job = out["ov-job"]["data"]
    assert stack.client.status(new_job, team="A")["owner"] == "alice"
    expected = [j["id"] for j in stack.client.list_jobs(team="A", limit=50)["jobs"]]
    assert new_job in expected
    cookies = alice.session.cookies.get_dict()

    def probe(i: int) -> tuple[str, list[str]]:
        http = Http(stack.web.url)
        http.session.cookies.update(cookies)
        http.probe = f"p{i}"
        jobs, _ = jobs_and_datasets(http)
        return http.probe, jobs

    # ...is listed by both processes: many concurrent requests, told apart by the pid in the access log
    answers: dict[str, list[str]] = {}
    with ThreadPoolExecutor(max_workers=6) as pool:
        for rounds in range(10):
            answers.update(pool.map(probe, range(rounds * 24, (rounds + 1) * 24)))
            time.sleep(0.3)  # the access log is written after each response
            pids = set(stack.web.pids_by_probe().values())
            if len(pids) >= 2:
                break
    by_probe = stack.web.pids_by_probe()
    pids = {by_probe[p] for p in answers if p in by_probe}
    assert len(pids) >= 2, f"all {len(answers)} requests were served by {pids}"
    for probe_id, jobs in answers.items():
        # the same list, give or take the job's status (only ids are compared)
        assert jobs == expected, (probe_id, by_probe.get(probe_id))


def test_real_gunicorn_refuses_hosted_mode_without_secret_key(stack, tmp_path):
    env = {k: v for k, v in stack.web_env.items() if k != "SECRET_KEY"}
    web = Gunicorn(env, tmp_path).start()
    try:
        code = web.proc.wait(120)
    finally:
        web.stop()
    assert code != 0
    assert "error: Hosted mode needs the environment variable SECRET_KEY" in web.output(tail=None)


def test_real_local_mode_has_no_sign_in(stack, tmp_path):
    env = {k: v for k, v in stack.env.items() if k not in HOSTED_VARS}
    port = free_port()
    out = open(tmp_path / "web.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "webapp", "--port", str(port)], cwd=REPO, env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def up():
            assert proc.poll() is None, (tmp_path / "web.log").read_text()
            try:
                return requests.get(base + "/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_for(up, 90, interval=0.5, what="python -m webapp")
        page = requests.get(base + "/", allow_redirects=False, timeout=30)
        assert page.status_code == 200 and "<title>" in page.text
        layout = requests.get(base + "/_dash-layout", timeout=30)
        assert layout.status_code == 200 and "local mode" in layout.text and "nav-signout" not in layout.text
        local = Http(base)
        jobs, _ = jobs_and_datasets(local)
        assert not set(jobs) & set(stack.ids.values())  # team "local" sees neither A nor B
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)
        out.close()


def test_real_browser_signs_in_shows_the_team_and_signs_out(stack):
    """Chromium: the sign-in form, the navbar with user and team, alice's jobs on the Jobs page, an ended session
    sent back to the sign-in page at the next callback, and signing out."""
    require_browser()
    from playwright.sync_api import sync_playwright

    base = stack.web.url
    watcher = ConsoleWatcher()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.set_default_timeout(30_000)
            watcher.watch(page)
            page.goto(base + "/jobs")
            page.wait_for_url(re.compile(r"/login\?next=/jobs$"))
            page.fill("#username", "alice")
            page.fill("#password", "not-the-password")
            page.click("#login-submit")
            assert page.locator("#login-error").inner_text() == "Wrong user name or password."
            screenshot(page, "hosted-sign-in-refused")
            # the refused sign-in answers 401 (countable in access logs), which Chromium logs; nothing else
            assert [e for e in watcher.errors if "/login" not in e or "401" not in e] == []
            watcher.errors.clear()
            page.fill("#password", PASSWORDS["alice"])
            page.click("#login-submit")
            page.wait_for_url(base + "/jobs")
            page.locator(f'#jobs-list tr[data-job="{stack.ids["a_cluster"]}"]').wait_for()
            assert page.locator(f'#jobs-list tr[data-job="{stack.ids["b_describe"]}"]').count() == 0
            assert page.locator("#nav-user").inner_text() == "alice · team A"
            assert page.locator("#local-mode-badge").count() == 0
            screenshot(page, "hosted-jobs-alice")
            assert watcher.errors == [], "\n".join(watcher.errors)
            # the session ends (expired, or signed out in another tab): the next callback goes to the sign-in page
            page.context.clear_cookies()
            page.click("#nav-overview")
            page.wait_for_url(re.compile(r"/login\?next=%2Foverview$"))
            page.fill("#username", "alice")
            page.fill("#password", PASSWORDS["alice"])
            page.click("#login-submit")
            page.wait_for_url(base + "/overview")
            page.locator("#nav-user").wait_for()
            page.click("#nav-signout")
            page.wait_for_url(base + "/login?signed_out=1")
            assert "You are signed out." in page.content()
            page.goto(base + "/jobs")
            page.wait_for_url(re.compile(r"/login\?next=/jobs$"))
        finally:
            browser.close()
