"""The hosted deployment, checked without a Docker engine.

* ``docker-compose.yml`` is validated offline, after interpolating its ``${VAR}`` references from ``.env.example``
  plus test secrets, as compose does: against the compose-spec JSON schema vendored in ``tests/schemas``
  (``jsonschema``), and with Debian's ``docker-compose`` 1.29.2 (``docker-compose config -q``, which accepts
  ``profiles``). In CI (``CI=true``) both must run: a missing ``jsonschema`` / ``yaml`` package or
  ``docker-compose`` binary fails the tests instead of skipping them. A file with a misspelled key fails both.
* The services' shape: four services (flower in profile ``monitoring``), one image for web / worker / flower,
  Redis with append-only persistence, ``noeviction``, a password and no published port, the shared data volume,
  healthchecks, ``depends_on`` conditions, scalable workers with a stop grace period above the soft shutdown,
  gunicorn with several processes, and no secret values in the file.
* ``Dockerfile``, ``.dockerignore``, ``.env.example`` and ``.gitignore`` agree with it.
* The services' commands run for real on this machine, from a copy of exactly the files the Dockerfile copies:
  the Redis command line and its healthcheck, a worker with its healthcheck and its SIGTERM stop, the web command
  (gunicorn + ``webapp.wsgi``) with its healthcheck, and Flower's refusal to start without credentials.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import runpy
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.services import free_port, redis_executable, wait_for

try:
    import yaml
except ImportError:  # pragma: no cover - reported by the tests that need it
    yaml = None
try:
    import jsonschema
except ImportError:  # pragma: no cover
    jsonschema = None

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
ENV_EXAMPLE = REPO / ".env.example"
SCHEMA = Path(__file__).resolve().parent / "schemas" / "compose-spec.json"
IN_CI = os.environ.get("CI") == "true"

SERVICES = {"web", "worker", "redis", "flower"}
APP_SERVICES = ("web", "worker", "flower")  # the ones built from ./Dockerfile
# Values the secrets get in these tests: each must reach the config only through a ${VAR} reference.
TEST_SECRETS = {
    "REDIS_PASSWORD": "test-redis-password-Q7x",
    "SECRET_KEY": "test-secret-key-Z3k",
    "FLOWER_BASIC_AUTH": "admin:test-flower-password-W9p",
}
REQUIRED_SECRETS = ("REDIS_PASSWORD", "SECRET_KEY")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_AUTH|CREDENTIAL|PRIVATE", re.IGNORECASE)


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"{what} (CI must run this check)")
    pytest.skip(what)


def _need_yaml() -> None:
    if yaml is None:
        _missing("PyYAML is not installed (requirements-dev.txt)")


def _need_jsonschema() -> None:
    if jsonschema is None:
        _missing("jsonschema is not installed (requirements-dev.txt)")


def _docker_compose() -> str:
    found = shutil.which("docker-compose")
    if not found:
        _missing("docker-compose is not installed (apt-get install docker-compose)")
    return found


# ---- compose's variable interpolation ---------------------------------------------------------------------------

_REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


class MissingVariable(ValueError):
    pass


def interpolate(value, env: dict[str, str]):
    """``value`` (a loaded compose file or part of it) with ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``,
    ``${VAR:?error}``, ``${VAR?error}`` and ``$$`` resolved as compose resolves them."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def resolve(match: re.Match) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        current = env.get(name)
        unset = not current if op and op.startswith(":") else current is None
        if op and op.endswith("-"):
            return arg if unset else current
        if op and op.endswith("?") and unset:
            raise MissingVariable(f"{name}: {arg}")
        return current or ""

    return _REFERENCE.sub(resolve, value)


def read_env_file(path: Path) -> dict[str, str]:
    """The ``KEY=VALUE`` lines of an env file (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def compose_env(**extra: str) -> dict[str, str]:
    """What compose interpolates with in these tests: ``.env.example`` with the test secrets filled in."""
    env = read_env_file(ENV_EXAMPLE)
    env.update(TEST_SECRETS)
    env.update(extra)
    return env


def load_raw(text: str | None = None) -> dict:
    _need_yaml()
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8") if text is None else text)


@pytest.fixture(scope="module")
def config() -> dict:
    """docker-compose.yml as compose sees it with ``.env.example`` plus the test secrets."""
    return interpolate(load_raw(), compose_env())


# ---- the validators ---------------------------------------------------------------------------------------------

def schema_errors(text: str, env: dict[str, str]) -> list[str]:
    """Errors of the compose-spec JSON schema for a compose file's text, interpolated with ``env``."""
    _need_jsonschema()
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    # The file names draft 2019-09 as "http://...#", which jsonschema does not recognise by that spelling.
    assert "draft/2019-09" in schema["$schema"]
    validator_class = jsonschema.Draft201909Validator
    validator_class.check_schema(schema)
    document = interpolate(load_raw(text), env)
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                  for e in validator_class(schema).iter_errors(document))


def docker_compose_config(text: str, env: dict[str, str], folder: Path,
                          profiles: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """``docker-compose config -q`` on ``text`` in an empty project folder (so no developer's ``.env`` is read)."""
    exe = _docker_compose()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "docker-compose.yml"
    path.write_text(text, encoding="utf-8")
    (folder / "Dockerfile").write_text("FROM scratch\n")
    flags = [arg for profile in profiles for arg in ("--profile", profile)]
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder), "LANG": "C.UTF-8", **env}
    return subprocess.run([exe, "--project-directory", str(folder), "-f", str(path), *flags, "config", "-q"],
                          env=clean, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("profiles", [(), ("monitoring",)], ids=["default", "monitoring"])
def test_compose_file_passes_the_schema_and_docker_compose(tmp_path, profiles):
    text = COMPOSE.read_text(encoding="utf-8")
    assert schema_errors(text, compose_env()) == []
    result = docker_compose_config(text, compose_env(), tmp_path, profiles)
    assert result.returncode == 0, result.stderr


BROKEN = {
    "misspelled service key": ("    stop_grace_period: ${WORKER_STOP_GRACE_PERIOD",
                               "    stop_grace_periode: ${WORKER_STOP_GRACE_PERIOD"),
    "misspelled healthcheck key": ("      start_period: 60s\n", "      start_periode: 60s\n"),
    "misspelled top-level key": ("\nvolumes:\n", "\nvolumez:\n"),
    "v2-only healthcheck.start_interval": ("      retries: 3\n", "      retries: 3\n      start_interval: 5s\n"),
    "v2-only depends_on.restart": ("        condition: service_healthy\n",
                                   "        condition: service_healthy\n        restart: true\n"),
}


@pytest.mark.parametrize("change", list(BROKEN), ids=list(BROKEN))
def test_a_wrong_key_fails_validation(tmp_path, change):
    old, new = BROKEN[change]
    text = COMPOSE.read_text(encoding="utf-8")
    assert old in text, f"the test's anchor {old!r} is no longer in docker-compose.yml"
    broken = text.replace(old, new, 1)
    assert schema_errors(broken, compose_env()), f"the schema accepted a {change}"
    result = docker_compose_config(broken, compose_env(), tmp_path)
    assert result.returncode != 0, f"docker-compose accepted a {change}"


def test_compose_refuses_to_start_without_the_secrets(tmp_path):
    """``.env.example`` as it is (empty secrets): interpolation stops with a message naming the variable."""
    bare = read_env_file(ENV_EXAMPLE)
    assert all(bare.get(name) == "" for name in REQUIRED_SECRETS)
    with pytest.raises(MissingVariable, match="|".join(REQUIRED_SECRETS)):
        interpolate(load_raw(), bare)
    result = docker_compose_config(COMPOSE.read_text(encoding="utf-8"), bare, tmp_path)
    assert result.returncode != 0
    assert any(name in result.stderr for name in REQUIRED_SECRETS), result.stderr


# ---- the services -----------------------------------------------------------------------------------------------

def _volumes(service: dict) -> dict[str, str]:
    """``{target: source}`` of a service's mounts (short and long syntax)."""
    mounts = {}
    for item in service.get("volumes") or []:
        if isinstance(item, dict):
            mounts[item["target"]] = item.get("source", "")
        else:
            source, _, rest = item.partition(":")
            mounts[rest.split(":")[0]] = source
    return mounts


def _seconds(duration: str) -> float:
    """A compose duration (``1m30s``, ``60s``, ``500ms``) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", str(duration))
    assert parts and "".join(n + u for n, u in parts) == str(duration), f"not a duration: {duration!r}"
    return sum(float(n) * units[u] for n, u in parts)


def _test_command(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def test_services_and_the_monitoring_profile(config):
    assert set(config["services"]) == SERVICES
    assert config["services"]["flower"]["profiles"] == ["monitoring"]
    for name in SERVICES - {"flower"}:
        assert "profiles" not in config["services"][name], f"{name} must start with a plain `docker compose up`"


def test_web_worker_and_flower_share_one_image_built_from_the_dockerfile(config):
    services = config["services"]
    images = {name: (services[name]["image"], json.dumps(services[name]["build"], sort_keys=True))
              for name in APP_SERVICES}
    assert len(set(images.values())) == 1, images
    build = services["web"]["build"]
    assert build["context"] == "." and (REPO / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
    assert services["redis"]["image"].startswith("redis:7")


def test_redis_persists_append_only_never_evicts_needs_a_password_and_is_not_published(config):
    redis = config["services"]["redis"]
    assert "ports" not in redis
    command = redis["command"]
    assert command[0] == "redis-server"
    options = dict(zip(command[1::2], command[2::2], strict=False))
    assert options["--appendonly"] == "yes"
    assert options["--maxmemory-policy"] == "noeviction"
    assert options["--requirepass"] == TEST_SECRETS["REDIS_PASSWORD"]
    source = _volumes(redis)["/data"]
    assert source in config["volumes"], "Redis's data must be on a named volume"


def test_web_and_workers_share_the_data_volume_at_segments_data_dir(config):
    services = config["services"]
    sources = set()
    for name in ("web", "worker"):
        data_dir = services[name]["environment"]["SEGMENTS_DATA_DIR"]
        mounts = _volumes(services[name])
        assert data_dir in mounts, f"{name} does not mount a volume at SEGMENTS_DATA_DIR={data_dir}"
        sources.add(mounts[data_dir])
    assert len(sources) == 1 and sources <= set(config["volumes"]), sources
    assert sources.isdisjoint(_volumes(services["redis"]).values())


def test_every_service_has_a_healthcheck(config):
    services = config["services"]
    for name in SERVICES:
        check = services[name].get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert isinstance(check["test"], list) and check["test"][0] in ("CMD", "CMD-SHELL"), name
    assert "127.0.0.1:8050/healthz" in _test_command(services["web"])
    assert "inspect ping -d celery@$HOSTNAME" in _test_command(services["worker"])
    assert re.search(r"redis-cli .*ping.*\| *grep -q PONG", _test_command(services["redis"]))
    assert "127.0.0.1:5555/healthcheck" in _test_command(services["flower"])


def test_services_wait_for_a_healthy_redis(config):
    for name in APP_SERVICES:
        assert config["services"][name]["depends_on"] == {"redis": {"condition": "service_healthy"}}, name


def test_workers_scale_and_stop_softly(config):
    worker = config["services"]["worker"]
    for key in ("container_name", "hostname", "ports"):
        assert key not in worker, f"worker has {key}: `--scale worker=N` would clash"
    assert worker["command"][:6] == ["celery", "-A", "workers.celery_app", "worker", "-Q", "segments"]
    env = worker["environment"]
    assert env["REMAP_SIGTERM"] == "SIGQUIT"
    soft = float(env["WORKER_SOFT_SHUTDOWN"])
    assert _seconds(worker["stop_grace_period"]) >= soft + 15, "SIGKILL would come before the soft shutdown ends"


def test_web_runs_gunicorn_with_several_processes(config, monkeypatch):
    web = config["services"]["web"]
    command = web["command"]
    assert command[0] == "gunicorn" and command[-1] == "webapp.wsgi:server"
    conf = REPO / command[command.index("--config") + 1]
    assert conf == REPO / "gunicorn.conf.py" and conf.is_file()
    for key in os.environ:
        if key.startswith("GUNICORN_"):
            monkeypatch.delenv(key)
    for key, value in web["environment"].items():
        monkeypatch.setenv(key, value)
    settings = runpy.run_path(str(conf))
    assert settings["workers"] >= 2 and settings["workers"] == int(web["environment"]["GUNICORN_WORKERS"]) == 4
    assert settings["bind"] == "0.0.0.0:8050"
    assert ["8050:8050"] == web["ports"]


def test_no_secret_values_in_the_compose_file(config):
    raw = load_raw()
    text = COMPOSE.read_text(encoding="utf-8")
    # 1. Secrets are only ever ${VAR} references, without a default (FLOWER_BASIC_AUTH may default to empty:
    #    Flower then refuses to start).
    for name in TEST_SECRETS:
        for match in re.finditer(rf"\$\{{{name}(?P<op>:?[-?])?(?P<arg>[^}}]*)\}}", text):
            assert not (match.group("op") or "").endswith("-") or match.group("arg") == "", match.group(0)

    # 2. Every environment value whose name says "secret" comes from a ${VAR}, never a literal.
    def walk_env(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "environment" and isinstance(value, dict):
                    yield from value.items()
                else:
                    yield from walk_env(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk_env(item)

    for key, value in walk_env(raw):
        if SECRET_NAME.search(key) or key == "REDIS_URL":
            assert "${" in str(value), f"{key} has a literal value in docker-compose.yml"
    # 3. Interpolated, each secret lands where it belongs: it came from the env file.
    services = config["services"]
    password = TEST_SECRETS["REDIS_PASSWORD"]
    for name in APP_SERVICES:
        assert services[name]["environment"]["REDIS_URL"] == f"redis://:{password}@redis:6379/0"
    assert services["redis"]["environment"]["REDISCLI_AUTH"] == password
    assert services["web"]["environment"]["SECRET_KEY"] == TEST_SECRETS["SECRET_KEY"]
    assert services["flower"]["environment"]["FLOWER_BASIC_AUTH"] == TEST_SECRETS["FLOWER_BASIC_AUTH"]
    # 4. No literal credentials in a URL.
    assert not re.search(r"redis://[^$\s]*:[^$@\s]+@", text)


def test_env_example_documents_every_variable_and_holds_no_secret():
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))
    used = {m.group("name") for m in _REFERENCE.finditer(COMPOSE.read_text(encoding="utf-8")) if m.group("name")}
    assert used - documented == set(), "variables of docker-compose.yml missing from .env.example"
    values = read_env_file(ENV_EXAMPLE)
    for name in TEST_SECRETS:
        assert values.get(name) == "", f"{name} must be present and empty in .env.example"


def test_env_file_is_ignored_by_git_and_docker():
    assert ".env" in (REPO / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    if shutil.which("git") and (REPO / ".git").exists():
        assert subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO).returncode == 0
        assert subprocess.run(["git", "check-ignore", "-q", ".env.example"], cwd=REPO).returncode == 1


# ---- Dockerfile -------------------------------------------------------------------------------------------------

def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        current += " " + stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            word, _, rest = current.strip().partition(" ")
            lines.append((word.upper(), rest.strip()))
            current = ""
    return lines


def copied_paths() -> list[tuple[str, str]]:
    """``(source, destination)`` of the Dockerfile's COPY instructions."""
    pairs = []
    for word, args in dockerfile_instructions():
        if word == "COPY":
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            pairs += [(source, parts[-1]) for source in parts[:-1]]
    return pairs


def test_dockerfile_slim_base_non_root_pinned_and_no_secrets():
    instructions = dockerfile_instructions()
    assert [args for word, args in instructions if word == "FROM"] == ["python:3.11-slim"]
    users = [args for word, args in instructions if word == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0"), "the image must run as a non-root user"
    runs = " ".join(args for word, args in instructions if word == "RUN")
    assert "pip install -r" in runs and "requirements.txt" in runs
    copied = {source.rstrip("/") for source, _ in copied_paths()}
    assert {"analysis", "workers", "webapp", "assets", "requirements.txt", "gunicorn.conf.py"} <= copied
    for word, args in instructions:
        if word in ("ENV", "ARG"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split()[0]]
            assert not [n for n in names if SECRET_NAME.search(n) or n == "REDIS_URL"], f"{word} {args}"
    flower = re.search(r'ARG FLOWER_PACKAGES="([^"]+)"', DOCKERFILE.read_text(encoding="utf-8"))
    assert flower and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.]+", p) for p in flower.group(1).split())


def test_requirements_are_pinned_and_include_gunicorn():
    names = []
    for line in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert re.fullmatch(r"[A-Za-z0-9_.\[\]-]+==[A-Za-z0-9_.]+", line), f"not pinned: {line}"
            names.append(line.split("==")[0].split("[")[0].lower())
    assert "gunicorn" in names, "the web service runs gunicorn: pin it in requirements.txt"


def test_dockerignore_keeps_secrets_out_and_the_copied_files_in():
    patterns = [p.strip() for p in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
                if p.strip() and not p.startswith("#")]
    assert ".env" in patterns and ".git" in patterns and ".venv" in patterns
    for source, _ in copied_paths():
        name = source.rstrip("/")
        assert name not in patterns and f"{name}/" not in patterns, f".dockerignore drops {name}, which is copied"


# ---- running the services' commands -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def image_tree(tmp_path_factory) -> Path:
    """A folder holding exactly what the Dockerfile copies into /app (what the containers import from)."""
    root = tmp_path_factory.mktemp("image") / "app"
    root.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for source, destination in copied_paths():
        src = REPO / source
        dst = root / destination if destination not in ("./", ".") else root / src.name
        if src.is_dir():
            shutil.copytree(src, dst, ignore=ignore)
        else:
            shutil.copy2(src, dst)
    return root


def image_env(root: Path, service_env: dict[str, str], **extra: str) -> dict[str, str]:
    """The environment of a container process, run here: the service's variables, PYTHONPATH=/app as in the
    Dockerfile, and the virtualenv's tools on PATH."""
    env = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "SEGMENTS_DATA_DIR")}
    env.update(service_env)
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), os.environ.get("PATH", "")))
    return env


def _closed_port_url() -> str:
    return f"redis://:nopassword@127.0.0.1:{free_port()}/0"


def test_the_image_files_are_enough_to_import_web_and_workers(image_tree, tmp_path):
    code = (
        "import json, webapp.wsgi, workers.tasks, workers.celery_app, webapp.app\n"
        "mods = [webapp.wsgi, workers.tasks, workers.celery_app]\n"
        "print(json.dumps({'files': [m.__file__ for m in mods], 'assets': str(webapp.app.ASSETS)}))\n"
    )
    env = image_env(image_tree, {"REDIS_URL": _closed_port_url(), "SEGMENTS_DATA_DIR": str(tmp_path)})
    out = subprocess.run([sys.executable, "-c", code], cwd=image_tree, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout.splitlines()[-1])
    assert all(Path(f).is_relative_to(image_tree) for f in info["files"]), info
    assert (Path(info["assets"]) / "bootstrap.min.css").is_file()


def test_wsgi_exposes_the_flask_server_with_a_fast_failing_healthz(image_tree, tmp_path):
    """``webapp.wsgi.server`` is a Flask app with ``/healthz``; with Redis unreachable it answers 503 at once."""
    code = (
        "import json, time, flask\n"
        "import webapp.wsgi as wsgi\n"
        "rules = sorted(r.rule for r in wsgi.server.url_map.iter_rules())\n"
        "client = wsgi.server.test_client()\n"
        "start = time.monotonic()\n"
        "response = client.get('/healthz')\n"
        "print(json.dumps({'flask': isinstance(wsgi.server, flask.Flask), 'same': wsgi.server is wsgi.app.server,\n"
        "                  'rules': rules, 'status': response.status_code, 'body': response.get_json(),\n"
        "                  'seconds': time.monotonic() - start}))\n"
    )
    env = image_env(image_tree, {"REDIS_URL": _closed_port_url(), "SEGMENTS_DATA_DIR": str(tmp_path)})
    out = subprocess.run([sys.executable, "-c", code], cwd=image_tree, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout.splitlines()[-1])
    assert info["flask"] and info["same"] and "/healthz" in info["rules"]
    assert info["status"] == 503 and info["body"] == {"status": "degraded", "redis": False, "workers": 0}
    assert info["seconds"] < 5, f"/healthz took {info['seconds']:.1f} s without Redis: the client must fail fast"


class Process:
    """A child process in its own process group, logging to a file; killed with its group at the end."""

    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.out = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # also any child left behind by an exited leader
        self.proc.wait(30)
        self.out.close()


def _tool(command: list[str]) -> list[str]:
    """A container command with its program taken from this virtualenv (or PATH)."""
    local = Path(sys.executable).parent / command[0]
    return [str(local) if local.exists() else command[0], *command[1:]]


def _shell_check(service: dict, env: dict[str, str], *, replace: tuple[str, str] = ("", "")) -> int:
    """Run a service's healthcheck (CMD or CMD-SHELL) here; the exit code."""
    test = service["healthcheck"]["test"]
    kind, args = test[0], [a.replace(*replace) if replace[0] else a for a in test[1:]]
    argv = ["/bin/sh", "-c", args[0]] if kind == "CMD-SHELL" else _tool(args)
    timeout = _seconds(service["healthcheck"]["timeout"])
    try:
        return subprocess.run(argv, env=env, capture_output=True, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return -1


@pytest.fixture(scope="module")
def redis_service(config, tmp_path_factory):
    """redis-server started with the compose command line (plus a private port and folder)."""
    import redis as redis_py

    service = config["services"]["redis"]
    exe = redis_executable()
    folder = tmp_path_factory.mktemp("redis")
    port = free_port()
    args = [exe, *service["command"][1:], "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
    proc = Process(args, cwd=folder, env=dict(os.environ), log=folder / "redis.log")
    client = redis_py.Redis(port=port, password=TEST_SECRETS["REDIS_PASSWORD"], socket_connect_timeout=1)

    def ready() -> bool:
        try:
            return bool(client.ping())
        except redis_py.RedisError:
            return False

    try:
        wait_for(lambda: ready() or not proc.alive(), 20, what="redis-server with the compose options")
        assert proc.alive(), proc.tail()
        yield {"port": port, "client": client, "service": service}
    finally:
        client.close()
        proc.stop()


def test_redis_command_line_and_healthcheck(redis_service):
    client, port, service = redis_service["client"], redis_service["port"], redis_service["service"]
    assert client.config_get("appendonly")["appendonly"] == "yes"
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:  # no password: refused
        sock.sendall(b"PING\r\n")
        assert sock.recv(64).startswith(b"-NOAUTH")
    if not shutil.which("redis-cli"):
        _missing("redis-cli is not installed (apt-get install redis-tools)")
    env = {**os.environ, **service["environment"]}
    redis_cli = ("redis-cli", f"redis-cli -p {port}")
    assert _shell_check(service, env, replace=redis_cli) == 0
    env["REDISCLI_AUTH"] = "wrong-password"
    assert _shell_check(service, env, replace=redis_cli) != 0, "the healthcheck passed with a wrong password"


def _worker_env(image_tree: Path, port: int, data: Path) -> dict[str, str]:
    """The worker's environment with REDIS_HOST / REDIS_PORT pointing at the test Redis (as on a worker-only
    machine)."""
    service = interpolate(load_raw(), compose_env(REDIS_HOST="127.0.0.1", REDIS_PORT=str(port)))["services"]
    env = dict(service["worker"]["environment"])
    env.update(SEGMENTS_DATA_DIR=str(data), WORKER_CONCURRENCY="1")
    return image_env(image_tree, env, HOSTNAME=socket.gethostname())


def test_worker_command_healthcheck_and_soft_stop(config, image_tree, redis_service, tmp_path):
    service = config["services"]["worker"]
    env = _worker_env(image_tree, redis_service["port"], tmp_path / "data")
    assert env["REDIS_URL"].startswith(f"redis://:{TEST_SECRETS['REDIS_PASSWORD']}@127.0.0.1:")
    worker = Process(_tool(service["command"]), cwd=image_tree, env=env, log=tmp_path / "worker.log")
    try:
        # (Polling the healthcheck itself would wait its whole --timeout for each try before the worker is up.)
        wait_for(lambda: not worker.alive() or " ready." in worker.tail(), 90, interval=0.5, what="the worker")
        assert worker.alive(), worker.tail()
        assert _shell_check(service, env) == 0, worker.tail()
        # docker stop: SIGTERM (REMAP_SIGTERM=SIGQUIT), then SIGKILL after stop_grace_period.
        start = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        worker.proc.wait(_seconds(service["stop_grace_period"]))
        assert time.monotonic() - start < _seconds(service["stop_grace_period"])
        assert _shell_check(service, env, replace=("--timeout 10", "--timeout 2")) != 0, "passed with no worker"
    finally:
        worker.stop()


def test_web_command_serves_the_app_with_several_processes(config, image_tree, tmp_path):
    service = config["services"]["web"]
    port = free_port()
    env = image_env(image_tree, service["environment"], GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS="2",
                    REDIS_URL=_closed_port_url(), SEGMENTS_DATA_DIR=str(tmp_path / "data"))
    web = Process(_tool(service["command"]), cwd=image_tree, env=env, log=tmp_path / "web.log")
    here = ("127.0.0.1:8050", f"127.0.0.1:{port}")
    try:
        wait_for(lambda: not web.alive() or _shell_check(service, env, replace=here) == 0, 90, interval=0.5,
                 what="the web healthcheck to pass")
        assert web.alive(), web.tail()
        children = subprocess.run(["pgrep", "-P", str(web.proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 2, web.tail()
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert answer.value.code == 503  # Redis unreachable: degraded, and the healthcheck still passes
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
            assert page.status == 200 and b"<title>" in page.read()
        start = time.monotonic()
        web.proc.send_signal(signal.SIGTERM)
        assert web.proc.wait(_seconds(service["stop_grace_period"])) == 0
        assert time.monotonic() - start < _seconds(service["stop_grace_period"])
        assert _shell_check(service, env, replace=here) != 0, "the healthcheck passed with nothing listening"
    finally:
        web.stop()


def test_flower_refuses_to_start_without_credentials(config, image_tree):
    service = config["services"]["flower"]
    command = service["command"]
    assert command[:2] == ["sh", "-c"] and "exec celery -A workers.celery_app flower" in command[2]
    env = image_env(image_tree, {**service["environment"], "FLOWER_BASIC_AUTH": ""})
    out = subprocess.run(["/bin/sh", "-c", command[2]], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 64 and "FLOWER_BASIC_AUTH" in out.stderr


def test_flower_command_and_healthcheck(config, image_tree, redis_service, tmp_path):
    """Runs where Flower is installed (it is in the image, not in requirements.txt)."""
    probe = subprocess.run([sys.executable, "-c", "import flower"], env=image_env(image_tree, {}),
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("flower is not installed here (it is installed in the image only)")
    service = config["services"]["flower"]
    port = free_port()
    compose = interpolate(load_raw(), compose_env(REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis_service["port"])))
    env = image_env(image_tree, compose["services"]["flower"]["environment"])
    script = service["command"][2].replace("--port=5555", f"--port={port}").replace("0.0.0.0", "127.0.0.1")
    flower = Process(["/bin/sh", "-c", script], cwd=image_tree, env=env, log=tmp_path / "flower.log")
    here = ("127.0.0.1:5555", f"127.0.0.1:{port}")
    try:
        wait_for(lambda: not flower.alive() or _shell_check(service, env, replace=here) == 0, 60, interval=0.5,
                 what="the flower healthcheck to pass")
        assert flower.alive(), flower.tail()
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        assert answer.value.code == 401
        user, _, password = TEST_SECRETS["FLOWER_BASIC_AUTH"].partition(":")
        request = urllib.request.Request(f"http://127.0.0.1:{port}/workers")
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
        with urllib.request.urlopen(request, timeout=10) as page:
            assert page.status == 200
    finally:
        flower.stop()
