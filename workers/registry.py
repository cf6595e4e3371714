"""Job and dataset records in Redis: the one status contract shared by web and workers.

Keys (all under ``seg:``):

* ``job:<id>``: hash, one record per job (see :data:`JOB_FIELDS`);
* ``jobs:<team>``: sorted set of the team's job ids by creation time (newest first when listed);
* ``jobkey:<team>:<request hash>``: the job that answers a request (same dataset + normalised parameters);
* ``job:<id>:parts``: hash of finished sweep parts (k -> JSON metrics);
* ``result:<id>:<name>``: JSON results;
* ``dataset:<team>:<id>`` and ``datasets:<team>``: dataset metadata and the team's list;
* ``uploads:<team>``: stored uploads (``<sha><suffix>``) that became a dataset of the team (may be imported again);
  ``upload:<stored>:teams`` / ``upload:<stored>:pending``: the teams with a dataset from it / ingest jobs reading it;
* ``rejected:<team>:<id>``: the message of an upload the worker rejected, kept :data:`REJECTED_TTL` seconds.

A rejected upload leaves nothing else behind: when an ingest job of an uploaded file fails (the file is bad, or
reading it failed), one script removes its job record, its place in the team's job list and its request pointer
and keeps only the message under ``rejected:<team>:<id>`` for the upload page; the stored bytes are deleted when
no dataset and no other ingest job uses them.

Status moves ``queued -> running -> done | failed | cancelled``; the three last are final, enforced by a Lua
script so that a late or redelivered task can never undo a cancel or a failure.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from analysis.errors import AnalysisError
from workers.config import KEY_PREFIX, load_settings

log = logging.getLogger("workers.registry")

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
STATUSES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
FINAL = frozenset({DONE, FAILED, CANCELLED})
KINDS = ("ingest", "describe", "cluster", "sweep")
JOB_FIELDS = (
    "id", "kind", "params", "dataset_id", "owner", "team", "status", "progress_done", "progress_total",
    "message", "created", "started", "finished", "updated", "error", "result_keys", "request_key", "attempts",
)

# Move a job to a new status unless it is already final. ARGV: new status, allowed current statuses
# (comma-separated, "" = any non-final), then field/value pairs to set with it. Returns 1 if moved.
_TRANSITION = """
local cur = redis.call('HGET', KEYS[1], 'status')
if not cur then return -1 end
if cur == 'done' or cur == 'failed' or cur == 'cancelled' then return 0 end
if ARGV[2] ~= '' then
  local ok = false
  for s in string.gmatch(ARGV[2], '[^,]+') do if s == cur then ok = true end end
  if not ok then return 0 end
end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[1] == 'done' or ARGV[1] == 'failed' or ARGV[1] == 'cancelled' then
  local team = redis.call('HGET', KEYS[1], 'team')
  redis.call('SREM', '""" + KEY_PREFIX + """active:' .. team, redis.call('HGET', KEYS[1], 'id'))
end
return 1
"""


REJECTED, REJECTED_TTL = "rejected", 3600

# Remove a failing ingest job of an uploaded file as if it had never been created, keeping its message under
# rejected:<team>:<id> for ARGV[2] seconds. KEYS: the job hash. ARGV: error, ttl, now. Returns {0, ""} when the job
# is not a live upload ingest (nothing done), else {1, the stored upload to delete or ""}: the bytes go when no
# dataset came from them and no other ingest job reads them.
_REJECT = """
local st = redis.call('HGET', KEYS[1], 'status')
if not st or st == 'done' or st == 'failed' or st == 'cancelled' then return {0, ''} end
if redis.call('HGET', KEYS[1], 'kind') ~= 'ingest' then return {0, ''} end
local ok, params = pcall(cjson.decode, redis.call('HGET', KEYS[1], 'params') or '')
if not ok or type(params) ~= 'table' or type(params['upload']) ~= 'string' then return {0, ''} end
local id = redis.call('HGET', KEYS[1], 'id')
local team = redis.call('HGET', KEYS[1], 'team')
local pointer = '""" + KEY_PREFIX + """jobkey:' .. team .. ':' .. (redis.call('HGET', KEYS[1], 'request_key') or '')
if redis.call('GET', pointer) == id then redis.call('DEL', pointer) end
redis.call('ZREM', '""" + KEY_PREFIX + """jobs:' .. team, id)
redis.call('SREM', '""" + KEY_PREFIX + """active:' .. team, id)
redis.call('DEL', KEYS[1], KEYS[1] .. ':parts')
local name = params['name']
if type(name) ~= 'string' then name = '' end
redis.call('SET', '""" + KEY_PREFIX + """rejected:' .. team .. ':' .. id,
           cjson.encode({error = ARGV[1], name = name, at = tonumber(ARGV[3])}), 'EX', ARGV[2])
local stored = string.match(params['upload'], '[^/]+$') or ''
local upload = '""" + KEY_PREFIX + """upload:' .. stored
redis.call('SREM', upload .. ':pending', id)
if redis.call('SCARD', upload .. ':pending') == 0 and redis.call('SCARD', upload .. ':teams') == 0 then
  return {1, params['upload']}
end
return {1, ''}
"""


class TooManyJobs(AnalysisError):
    """The team reached its limit of concurrently queued or running jobs (a message for the user)."""


# Create a job unless a live one answers the same request. KEYS: request pointer, team's job list, team's active
# set, new job hash. ARGV: job id, created, max active (0 = no limit), then the record's field/value pairs.
# Returns {1, id} created, {0, existing id} reused, {-1, ""} refused by the limit.
_CREATE = """
local existing = redis.call('GET', KEYS[1])
if existing then
  local st = redis.call('HGET', '""" + KEY_PREFIX + """job:' .. existing, 'status')
  if st and st ~= 'failed' and st ~= 'cancelled' then return {0, existing} end
end
local limit = tonumber(ARGV[3])
if limit > 0 and redis.call('SCARD', KEYS[3]) >= limit then return {-1, ''} end
redis.call('HSET', KEYS[4], unpack(ARGV, 4))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SET', KEYS[1], ARGV[1])
return {1, ARGV[1]}
"""

# Store a finished sweep part and raise the job's progress to the number of stored parts (never lower it, never
# touch a final job). KEYS: parts hash, job hash. ARGV: part name, JSON, now, total. Returns the part count.
_SAVE_PART = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local n = redis.call('HLEN', KEYS[1])
local st = redis.call('HGET', KEYS[2], 'status')
if st == 'queued' or st == 'running' then
  local cur = tonumber(redis.call('HGET', KEYS[2], 'progress_done') or '0')
  if n > cur then
    redis.call('HSET', KEYS[2], 'progress_done', n, 'updated', ARGV[3],
               'message', n .. ' of ' .. ARGV[4] .. ' values of k scored')
  end
end
return n
"""


def connect(url: str, *, patient: bool = True) -> redis.Redis:
    """A Redis client. ``patient`` (workers) rides out a restart of the server by retrying for about a
    minute; impatient (web requests) gives up after about a second so the page can say the queue is down."""
    retries, connect_timeout = (40, 5) if patient else (2, 1)
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=retries),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        socket_connect_timeout=connect_timeout,
        socket_timeout=30 if patient else 5,
        health_check_interval=10,
    )


def request_key(kind: str, dataset_id: str, params: dict) -> str:
    """Hash of a normalised request: the same dataset and parameters give the same key."""
    text = json.dumps({"kind": kind, "dataset": dataset_id, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _k(*parts: str) -> str:
    return KEY_PREFIX + ":".join(parts)


def _upload_key(upload: str, what: str) -> str:
    """``upload:<stored name>:<what>`` for a stored upload's relative path (``uploads/<sha><suffix>``)."""
    return _k("upload", Path(upload).name, what)


def part_task_id(job_id: str, k: int) -> str:
    """Celery task id of a sweep part: known to everyone, so parts can be revoked without a lookup."""
    return f"{job_id}-k{k}"


def job_key(job_id: str) -> str:
    return _k("job", job_id)


class Registry:
    """Job and dataset records. Every method is a few Redis commands; no caching, no process state."""

    def __init__(self, client: redis.Redis, *, data_dir: Path | None = None) -> None:
        """``data_dir``: the shared data directory, where a rejected upload's bytes are deleted (default: the
        environment's ``SEGMENTS_DATA_DIR``, read when first needed)."""
        self.r = client
        self.data_dir = data_dir
        self._transition = client.register_script(_TRANSITION)
        self._create = client.register_script(_CREATE)
        self._save_part = client.register_script(_SAVE_PART)
        self._reject = client.register_script(_REJECT)

    # ---- jobs ------------------------------------------------------------------------------------------------

    def create_job(self, *, kind: str, dataset_id: str, params: dict, owner: str, team: str,
                   total: int = 1, max_active: int | None = None) -> tuple[dict, bool]:
        """Create a queued job, or return the live one answering the same request.

        Returns ``(job, created)``. A request whose earlier job failed or was cancelled gets a new job.
        ``max_active``: refuse (:class:`TooManyJobs`) a new job while the team has this many queued or running.
        The look-up, the limit check and the writes are one Redis script, so two identical requests racing
        (a double click, two tabs) get one job.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown job kind {kind!r}")
        rkey = request_key(kind, dataset_id, params)
        job_id = uuid.uuid4().hex[:16]
        now = time.time()
        record = {
            "id": job_id, "kind": kind, "params": json.dumps(params, sort_keys=True), "dataset_id": dataset_id,
            "owner": owner, "team": team, "status": QUEUED, "progress_done": 0, "progress_total": total,
            "message": "Waiting for a worker", "created": now, "started": "", "finished": "", "updated": now,
            "error": "", "result_keys": "{}", "request_key": rkey, "attempts": 0,
        }
        fields = [x for pair in record.items() for x in pair]
        outcome, answer = self._create(
            keys=[_k("jobkey", team, rkey), _k("jobs", team), _k("active", team), job_key(job_id)],
            args=[job_id, now, max_active or 0, *fields],
        )
        if int(outcome) == -1:
            raise TooManyJobs(
                f"Your team already has {max_active} jobs queued or running, the most allowed at once; wait for "
                "one to finish or cancel one on the Jobs page."
            )
        if int(outcome) == 1 and kind == "ingest" and params.get("upload"):
            # Before the task is sent: a rejection must see this job among the readers of the stored bytes.
            self.r.sadd(_upload_key(params["upload"], "pending"), answer)
        return self.get(answer), int(outcome) == 1

    def active_count(self, team: str) -> int:
        """How many of the team's jobs are queued or running."""
        return int(self.r.scard(_k("active", team)))

    def get(self, job_id: str | None) -> dict | None:
        """The job record with decoded types, or None."""
        if not job_id:
            return None
        raw = self.r.hgetall(job_key(job_id))
        return _decode_job(raw) if raw else None

    def get_for_team(self, job_id: str, team: str) -> dict | None:
        """The job if it belongs to ``team``; another team's job is reported as absent."""
        job = self.get(job_id)
        return job if job is not None and job["team"] == team else None

    def list_jobs(self, team: str, *, offset: int = 0, limit: int = 20) -> list[dict]:
        """The team's jobs, newest first."""
        ids = self.r.zrevrange(_k("jobs", team), offset, offset + max(limit, 1) - 1)
        with self.r.pipeline() as pipe:
            for job_id in ids:
                pipe.hgetall(job_key(job_id))
            rows = pipe.execute()
        return [_decode_job(raw) for raw in rows if raw]

    def count_jobs(self, team: str) -> int:
        return int(self.r.zcard(_k("jobs", team)))

    def transition(self, job_id: str, status: str, *, only_from: Iterable[str] = (), **fields: Any) -> bool:
        """Set ``status`` (and ``fields``) unless the job is final or not in ``only_from``. True if it moved."""
        args: list[Any] = [status, ",".join(only_from)]
        fields.setdefault("updated", time.time())
        if status in FINAL:
            fields.setdefault("finished", time.time())
        for key, value in fields.items():
            args += [key, _encode(value)]
        return self._transition(keys=[job_key(job_id)], args=args) == 1

    def mark_running(self, job_id: str, message: str) -> bool:
        """queued -> running (sets ``started``); a running job just gets a fresh heartbeat. False if final."""
        now = time.time()
        if self.transition(job_id, RUNNING, only_from=(QUEUED,), started=now, message=message):
            return True
        return self.transition(job_id, RUNNING, only_from=(RUNNING,), message=message)

    def heartbeat(self, job_id: str, **fields: Any) -> bool:
        """Update fields of a running job (progress, message). False if the job is final."""
        return self.transition(job_id, RUNNING, only_from=(RUNNING, QUEUED), **fields)

    def finish(self, job_id: str, *, result_keys: dict, message: str = "Done") -> bool:
        """Mark done. A finished ingest of an uploaded file also records that the team has a dataset from those
        bytes (so they are kept, and the team may import them again)."""
        job = self.get(job_id)
        total = job["progress_total"] if job else 1
        moved = self.transition(job_id, DONE, result_keys=result_keys, progress_done=total, message=message)
        upload = (job or {}).get("params", {}).get("upload") if (job or {}).get("kind") == "ingest" else None
        if moved and upload:
            with self.r.pipeline() as pipe:
                pipe.sadd(_upload_key(upload, "teams"), job["team"])
                pipe.sadd(_k("uploads", job["team"]), Path(upload).name)
                pipe.srem(_upload_key(upload, "pending"), job_id)
                pipe.execute()
        return moved

    def fail(self, job_id: str, error: str) -> bool:
        """Mark failed with a message for the user. An ingest job of an uploaded file is instead removed as a
        rejected upload (see the module notes); :meth:`rejection` has its message."""
        outcome, upload = self._reject(keys=[job_key(job_id)], args=[error, REJECTED_TTL, time.time()])
        if int(outcome) == 1:
            if upload:
                self._delete_upload(upload)
            return True
        return self.transition(job_id, FAILED, error=error, message="Failed")

    def rejection(self, team: str, job_id: str) -> dict | None:
        """The rejected upload ``job_id`` of ``team`` as a job-like record with status ``"rejected"`` and the
        ``error`` message (for :data:`REJECTED_TTL` seconds after the rejection), else None."""
        text = self.r.get(_k("rejected", team, job_id)) if job_id else None
        if text is None:
            return None
        info = json.loads(text)
        return {"id": job_id, "kind": "ingest", "team": team, "status": REJECTED, "error": info.get("error"),
                "message": "Rejected", "params": {"name": info.get("name")}, "finished": info.get("at"),
                "result_keys": {}}

    def _delete_upload(self, relative: str) -> None:
        data_dir = self.data_dir or load_settings().data_dir
        path = (data_dir / relative).resolve()
        if data_dir.resolve() in path.parents:
            try:
                path.unlink(missing_ok=True)
            except OSError:  # pragma: no cover - logged; the record is already gone
                log.warning("could not delete the rejected upload %s", path, exc_info=True)

    def cancel(self, job_id: str) -> bool:
        return self.transition(job_id, CANCELLED, message="Cancelled")

    def is_final(self, job_id: str) -> bool:
        status = self.r.hget(job_key(job_id), "status")
        return status is None or status in FINAL

    # ---- sweep parts -----------------------------------------------------------------------------------------

    def save_part(self, job_id: str, part: str, value: dict, *, total: int) -> int:
        """Store a finished part (idempotent), raise the job's progress, return how many parts are stored."""
        return int(self._save_part(keys=[_k("job", job_id, "parts"), job_key(job_id)],
                                   args=[part, json.dumps(value), time.time(), total]))

    def parts(self, job_id: str) -> dict[str, dict]:
        return {k: json.loads(v) for k, v in self.r.hgetall(_k("job", job_id, "parts")).items()}

    def acquire(self, name: str, ttl: float) -> str | None:
        """A short lock (``SET NX`` with expiry); returns its token or None if held by someone else."""
        token = uuid.uuid4().hex
        return token if self.r.set(_k("lock", name), token, nx=True, px=int(ttl * 1000)) else None

    def release(self, name: str, token: str) -> None:
        key = _k("lock", name)
        if self.r.get(key) == token:
            self.r.delete(key)

    # ---- results ---------------------------------------------------------------------------------------------

    def put_result(self, job_id: str, name: str, value: dict) -> str:
        """Store a JSON result (a single SET: readers see the old value or the new one, never half)."""
        key = _k("result", job_id, name)
        self.r.set(key, json.dumps(value, allow_nan=False))
        return key

    def get_result(self, key: str) -> dict | None:
        text = self.r.get(key)
        return None if text is None else json.loads(text)

    # ---- datasets --------------------------------------------------------------------------------------------

    def put_dataset(self, team: str, meta: dict) -> None:
        with self.r.pipeline() as pipe:
            pipe.set(_k("dataset", team, meta["id"]), json.dumps(meta, allow_nan=False))
            pipe.zadd(_k("datasets", team), {meta["id"]: meta["created"]})
            pipe.execute()

    def get_dataset(self, team: str, dataset_id: str) -> dict | None:
        text = self.r.get(_k("dataset", team, dataset_id))
        return None if text is None else json.loads(text)

    def list_datasets(self, team: str) -> list[dict]:
        ids = self.r.zrevrange(_k("datasets", team), 0, -1)
        if not ids:
            return []
        texts = self.r.mget([_k("dataset", team, i) for i in ids])
        return [json.loads(t) for t in texts if t]


def _encode(value: Any) -> str | int | float:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if value is None:
        return ""
    return value


def _decode_job(raw: dict[str, str]) -> dict:
    job: dict[str, Any] = dict(raw)
    for key in ("progress_done", "progress_total", "attempts"):
        job[key] = int(float(job.get(key) or 0))
    for key in ("created", "started", "finished", "updated"):
        job[key] = float(job[key]) if job.get(key) else None
    job["params"] = json.loads(job.get("params") or "{}")
    job["result_keys"] = json.loads(job.get("result_keys") or "{}")
    job["error"] = job.get("error") or None
    return job
