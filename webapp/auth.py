"""Sign-in for hosted mode (Flask-Login with a small sign-in form; users and teams from ``USERS_FILE``).

Hosted mode is on when ``HOSTED_MODE`` is true (``1``, ``true``, ``yes``, ``on``), or when it is unset and
``USERS_FILE`` is set; ``HOSTED_MODE=0`` forces local mode (no sign-in, team "local"). In hosted mode:

* every request needs a signed-in user except ``/healthz``, the sign-in page ``/login``, ``/logout`` and the one
  stylesheet the sign-in page uses. A guard that runs before any other request hook (Dash's included) answers an
  anonymous page request (GET, not under ``/_``) with a redirect to ``/login?next=...`` and anything else (Dash's
  ``/_dash-layout``, ``/_dash-dependencies``, ``/_dash-update-component``, scripts, POSTs) with 401;
* the user's team comes from the users file on every request (never from the cookie), so removing a user or
  changing their team or password ends their sessions at once, in every process;
* sessions are Flask's signed cookies (no server-side state: any web process serves any user), signed with
  ``SECRET_KEY``, which must be set (the same in every process; the app refuses to start without it), HttpOnly,
  SameSite=Lax, Secure unless ``SESSION_COOKIE_INSECURE=1`` (plain-HTTP testing only), valid for 12 hours after
  the last request;
* the sign-in and sign-out forms carry a CSRF token kept in the session; Dash's callback requests are JSON POSTs,
  which a cross-site page cannot send with the cookie (SameSite=Lax, and JSON needs a CORS preflight);
* a page whose session ends shows the sign-in page at its next callback (a small script in the page).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import dash
import flask
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.identity import AUTH_EXTENSION
from webapp.users import USER_NAME, UserRecord, UsersFileError, UserStore, read_users

log = logging.getLogger("webapp.auth")

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
MIN_SECRET_KEY = 16
SESSION_LIFETIME = timedelta(hours=12)
LOGIN = "/login"
LOGOUT = "/logout"
PUBLIC_PATHS = frozenset({"/healthz", LOGIN, LOGOUT, "/assets/bootstrap.min.css"})
CSRF_KEY = "csrf"
CSRF_FIELD = "csrf_token"
SESSION_COOKIE = "segments_session"


class HostedModeError(RuntimeError):
    """Hosted mode is configured wrongly (the message names the environment variable); the app does not start."""


@dataclass(frozen=True)
class HostedSettings:
    users_file: Path
    secret_key: str = ""
    cookie_secure: bool = True

    def __repr__(self) -> str:  # never print the key
        return f"HostedSettings(users_file={str(self.users_file)!r}, cookie_secure={self.cookie_secure})"


def _flag(env: Mapping[str, str], name: str) -> bool | None:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in TRUE:
        return True
    if raw in FALSE:
        return False
    raise HostedModeError(f"Environment variable {name}={env[name]!r} is not one of 1/true/yes/on or 0/false/no/off.")


def hosted_settings(env: Mapping[str, str] | None = None) -> HostedSettings | None:
    """Hosted mode's settings from the environment, or None for local mode; :class:`HostedModeError` when hosted
    mode is asked for but cannot run safely."""
    env = os.environ if env is None else env
    flag = _flag(env, "HOSTED_MODE")
    users_file = env.get("USERS_FILE", "").strip()
    if flag is False or (flag is None and not users_file):
        return None
    if not users_file:
        raise HostedModeError("Hosted mode (HOSTED_MODE) needs the environment variable USERS_FILE: the path of the "
                              "users file (create it with `python -m webapp users add NAME --team TEAM`).")
    secret = env.get("SECRET_KEY", "")
    if not secret.strip():
        raise HostedModeError("Hosted mode needs the environment variable SECRET_KEY (the key that signs sign-in "
                              "sessions; the same value in every web process). Make one with: python3 -c "
                              "\"import secrets; print(secrets.token_urlsafe(32))\"")
    if len(secret) < MIN_SECRET_KEY:
        raise HostedModeError(f"The environment variable SECRET_KEY is too short for hosted mode ({len(secret)} "
                              f"characters; use at least {MIN_SECRET_KEY}, e.g. secrets.token_urlsafe(32)).")
    insecure = _flag(env, "SESSION_COOKIE_INSECURE") or False
    try:
        read_users(users_file)  # a broken file stops the start here, with the reason
    except UsersFileError as exc:
        raise HostedModeError(f"USERS_FILE: {exc}") from exc
    return HostedSettings(Path(users_file), secret, not insecure)


# ---- users of Flask-Login ------------------------------------------------------------------------------------

class User(UserMixin):
    """A signed-in user. The session keeps ``name:token``; the token is an HMAC of the user's file entry, so a
    changed password or team (or a removed user) no longer matches."""

    def __init__(self, record: UserRecord, token: str) -> None:
        self.name = record.name
        self.team = record.team
        self.token = token

    def get_id(self) -> str:
        return f"{self.name}:{self.token}"


class Auth:
    """What the app keeps for sign-in: the settings and the users file (read again when it changes)."""

    def __init__(self, settings: HostedSettings) -> None:
        self.settings = settings
        self.users = UserStore(settings.users_file)
        self._dummy_hash: str | None = None

    def token(self, record: UserRecord) -> str:
        message = f"{record.name}\0{record.team}\0{record.password_hash}".encode()
        return hmac.new(self.settings.secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]

    def load(self, user_id: str) -> User | None:
        name, _, token = (user_id or "").partition(":")
        record = self.users.get(name)
        if record is None or not hmac.compare_digest(self.token(record), token):
            return None
        return User(record, token)

    def check(self, name: str, password: str) -> User | None:
        """The user if the password is right. Unknown names cost a hash check too (no timing difference)."""
        record = self.users.get(name) if USER_NAME.fullmatch(name or "") else None
        if record is None:
            if self._dummy_hash is None:
                self._dummy_hash = generate_password_hash(secrets.token_hex(16), method="scrypt")
            check_password_hash(self._dummy_hash, password)
            return None
        if not check_password_hash(record.password_hash, password):
            return None
        return User(record, self.token(record))


# ---- CSRF token of the forms ---------------------------------------------------------------------------------

def csrf_token() -> str:
    """This session's token for the sign-in and sign-out forms (made on first use)."""
    token = flask.session.get(CSRF_KEY)
    if not token:
        token = flask.session[CSRF_KEY] = secrets.token_urlsafe(32)
    return token


def csrf_ok(value: str | None) -> bool:
    expected = flask.session.get(CSRF_KEY)
    return bool(expected and value) and hmac.compare_digest(str(expected), str(value))


def safe_next(target: str | None) -> str:
    """A local path to go to after signing in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or "\n" in target:
        return "/"
    return target


# ---- pages ---------------------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · {{ app_title }}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/bootstrap.min.css">
</head>
<body class="bg-light">
<nav class="navbar navbar-dark bg-dark mb-4"><div class="container-fluid">
<span class="navbar-brand">{{ app_title }}</span></div></nav>
<main class="container" style="max-width: 26rem">
<h1 class="h3 mb-3">{{ title }}</h1>
{% if error %}<div class="alert alert-danger" role="alert" id="login-error">{{ error }}</div>{% endif %}
{% if notice %}<div class="alert alert-info" role="status">{{ notice }}</div>{% endif %}
{% if form == "login" %}
<form method="post" action="/login" id="login-form">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<input type="hidden" name="next" value="{{ next }}">
<div class="mb-3"><label class="form-label" for="username">User name</label>
<input class="form-control" id="username" name="username" value="{{ username }}" autocomplete="username"
 autocapitalize="none" required{% if not username %} autofocus{% endif %}></div>
<div class="mb-3"><label class="form-label" for="password">Password</label>
<input class="form-control" id="password" name="password" type="password" autocomplete="current-password"
 required{% if username %} autofocus{% endif %}></div>
<button class="btn btn-primary w-100" type="submit" id="login-submit">Sign in</button>
</form>
<p class="text-muted small mt-3">Accounts are made by an administrator
(<code>python -m webapp users add NAME --team TEAM</code>).</p>
{% else %}
<form method="post" action="/logout" id="logout-form">
<input type="hidden" name="csrf_token" value="{{ csrf }}">
<button class="btn btn-primary" type="submit">Sign out</button>
<a class="btn btn-link" href="/">Back to the workbench</a>
</form>
{% endif %}
</main>
</body>
</html>
"""


def _page(status: int = 200, **values) -> flask.Response:
    from webapp.components import TITLE

    values = {"title": "Sign in", "app_title": TITLE, "error": None, "notice": None, "form": "login", "next": "/",
              "username": "", **values}
    response = flask.make_response(flask.render_template_string(PAGE, csrf=csrf_token(), **values), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def login_view() -> flask.Response:
    auth: Auth = flask.current_app.extensions[AUTH_EXTENSION]
    request = flask.request
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return flask.redirect(target)
        notice = "You are signed out." if request.args.get("signed_out") else None
        return _page(next=target, notice=notice)
    name = (request.form.get("username") or "").strip()
    if not csrf_ok(request.form.get(CSRF_FIELD)):
        error = "The sign-in form expired; please sign in again."
        if CSRF_KEY not in flask.session and auth.settings.cookie_secure and not request.is_secure:
            error = ("This server keeps sign-ins only over HTTPS (secure cookies): open it with https://. For "
                     "plain-HTTP testing set SESSION_COOKIE_INSECURE=1.")
        return _page(400, next=target, username=name, error=error)
    user = auth.check(name, request.form.get("password") or "")
    if user is None:
        log.warning("refused sign-in of %r from %s", name[:64], request.remote_addr)
        return _page(401, next=target, username=name, error="Wrong user name or password.")
    flask.session.clear()  # nothing from before the sign-in survives it
    login_user(user)
    flask.session.permanent = True
    flask.session[CSRF_KEY] = secrets.token_urlsafe(32)
    log.info("user %s (team %s) signed in from %s", user.name, user.team, request.remote_addr)
    return flask.redirect(target)


def logout_view() -> flask.Response:
    request = flask.request
    if request.method == "POST" and csrf_ok(request.form.get(CSRF_FIELD)):
        if current_user.is_authenticated:
            log.info("user %s signed out", current_user.name)
        logout_user()
        flask.session.clear()
        return flask.redirect(f"{LOGIN}?signed_out=1")
    if not current_user.is_authenticated:
        return flask.redirect(LOGIN)
    # A GET (a typed address, a link from another site) or a stale form: ask, with a fresh token.
    return _page(200 if request.method == "GET" else 400, title="Sign out", form="logout",
                 notice=f"Signed in as {current_user.name} (team {current_user.team}).")


# ---- the guard -----------------------------------------------------------------------------------------------

def guard() -> flask.Response | None:
    """Before any other request hook: anonymous requests reach only the public paths."""
    request = flask.request
    if request.path in PUBLIC_PATHS or current_user.is_authenticated:
        return None
    if request.method in ("GET", "HEAD") and not request.path.startswith("/_"):
        target = request.full_path if request.query_string else request.path
        return flask.redirect(f"{LOGIN}?next={quote(target, safe='/')}")
    response = flask.jsonify({"error": "Sign in first.", "login": LOGIN})
    response.status_code = 401
    response.headers["Cache-Control"] = "no-store"
    return response


def _private(response: flask.Response) -> flask.Response:
    """Signed-in pages and callback answers are private: no shared or browser cache keeps them, and no other
    site frames them."""
    path = flask.request.path
    if not path.startswith(("/_dash-component-suites/", "/assets/")) and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    return response


# A page whose session ended (expired, signed out elsewhere, user removed) goes to the sign-in page at its next
# callback instead of silently not updating. Not while this page signs out: a callback still running then (the
# Overview's charts follow its KPIs) gets a 401 once the session is gone, and navigating from it cut off the sign-out
# form's own answer (the "signed out" page).
SESSION_SCRIPT = """<script>
(function () {
  var original = window.fetch;
  var redirecting = false;
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form && form.getAttribute && form.getAttribute("action") === "LOGOUT_PATH") { redirecting = true; }
  }, true);
  window.fetch = function (input) {
    return original.apply(this, arguments).then(function (response) {
      var url = typeof input === "string" ? input : (input && input.url) || "";
      if (response.status === 401 && url.indexOf("/_dash-") !== -1 && !redirecting) {
        redirecting = true;  // several callbacks fail at once: navigate once, not once each
        var here = window.location.pathname + window.location.search;
        window.location.assign("/login?next=" + encodeURIComponent(here));
      }
      return response;
    });
  };
})();
</script>""".replace("LOGOUT_PATH", LOGOUT)


def install(app: dash.Dash, settings: HostedSettings) -> Auth:
    """Turn on hosted mode for a Dash app: cookie settings, Flask-Login, the sign-in routes and the guard."""
    server = app.server
    auth = Auth(settings)
    server.secret_key = settings.secret_key
    server.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        SESSION_REFRESH_EACH_REQUEST=True,
    )
    if not settings.cookie_secure:
        log.warning("SESSION_COOKIE_INSECURE is set: the session cookie is sent over plain HTTP (testing only)")
    manager = LoginManager()
    manager.session_protection = "basic"
    manager.user_loader(auth.load)
    manager.init_app(server)
    server.extensions[AUTH_EXTENSION] = auth
    server.add_url_rule(LOGIN, "login", login_view, methods=["GET", "POST"])
    server.add_url_rule(LOGOUT, "logout", logout_view, methods=["GET", "POST"])
    # First of all request hooks, so that an anonymous request does not even reach Dash's own.
    server.before_request_funcs.setdefault(None, []).insert(0, guard)
    server.after_request(_private)
    app.index_string = app.index_string.replace("</head>", SESSION_SCRIPT + "\n</head>", 1)
    log.info("hosted mode: sign-in required; users from %s (%d now)", settings.users_file, len(auth.users))
    return auth
