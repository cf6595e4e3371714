"""Every component id of the app, in one place (pages import these; tests and browser tests use the strings).

App-level ids (navbar, stores, the polling interval) are plain constants; page ids start with the page's name.
Pattern-matching ids are built by the small functions at the bottom.
"""

from __future__ import annotations

# ---- app level -----------------------------------------------------------------------------------------------
URL = "url"
POLL = "poll"  # the one dcc.Interval; enabled only while a job of the team is queued or running
JOBS = "store-jobs"  # memory: the team's newest jobs (compact records) and whether any is active
DATASETS = "store-datasets"  # memory: the team's datasets (metadata), newest first
DATASET = "store-dataset"  # local storage: the selected dataset id
RULES = "store-rules"  # local storage: {dataset id: {rule: on/off}}
PICKS = "store-picks"  # local storage: {"sweep"|"cluster"|"describe": {dataset id: job id}} (last run per dataset)
QUEUE_ALERT = "queue-alert"
QUEUE_RETRY = "queue-retry"  # a dcc.Interval enabled only while the queue is unavailable
NAV_DATASET = "nav-dataset"
NAV_ACTIVE = "nav-active"
LOCAL_BADGE = "local-mode-badge"

# ---- Data page -----------------------------------------------------------------------------------------------
DATA_DEMO = "data-demo"
DATA_UPLOAD = "data-upload"
DATA_UPLOAD_PENDING = "data-upload-pending"  # the upload after the browser-side size check
DATA_UPLOAD_MSG = "data-upload-msg"
DATA_INGEST = "data-ingest"  # session: {"job": id, "file": {...}, "handled": bool}
DATA_INGEST_STATUS = "data-ingest-status"
DATA_LIST = "data-list"
DATA_MAPPING = "data-mapping"
DATA_REIMPORT = "data-reimport"
DATA_REIMPORT_NOTE = "data-reimport-note"
DATA_RULES = "data-rules"
DATA_QUALITY = "data-quality"
DATA_DESCRIBE_JOB = "data-describe-job"
DATA_LAST_UPLOAD = "data-last-upload"  # local storage: {dataset id: {"name", "sha", "suffix"}} of uploads
DATA_SIZE_MSG = "data-size-msg"  # the browser-side size check's message
DATA_UPLOAD_LIMIT = "data-upload-limit"  # bytes, for the browser-side check
DATA_QUALITY_RENDERED = "data-quality-rendered"
DATA_MSG = "data-msg"

# ---- Overview page -------------------------------------------------------------------------------------------
OV_PIN = "ov-pin"  # the describe job in the URL (/results/<id>) or None
OV_JOB = "ov-job"  # the describe job shown
OV_RENDERED = "ov-rendered"  # the job whose result is on the page
OV_PAINTED = "ov-painted"  # the same job once the browser has painted its KPIs (the charts follow)
OV_MSG = "ov-msg"
OV_HEADER = "ov-header"
OV_STATUS = "ov-status"
OV_KPIS = "ov-kpis"
OV_CHARTS = "ov-charts"
OV_UNAVAILABLE = "ov-unavailable"

# ---- Segments page -------------------------------------------------------------------------------------------
SEG_PIN = "seg-pin"  # the sweep job in the URL (/results/<id>) or None
SEG_FEATURES = "seg-features"
SEG_LOG = "seg-log"
SEG_SCALING = "seg-scaling"
SEG_K_RANGE = "seg-k-range"
SEG_N_INIT = "seg-n-init"
SEG_SEED = "seg-seed"
SEG_STABILITY = "seg-stability"
SEG_RUN_SWEEP = "seg-run-sweep"
SEG_CANCEL = "seg-cancel"
SEG_SWEEP_JOB = "seg-sweep-job"  # the sweep job shown
SEG_SWEEP_RENDERED = "seg-sweep-rendered"
SEG_CONTEXT = "seg-context"  # {"dataset": id, "rules": {...}, "as_of": ...}: what this page's jobs run on
SEG_MSG = "seg-msg"
SEG_DATASET_NOTE = "seg-dataset-note"
SEG_SWEEP_SECTION = "seg-sweep-section"
SEG_PROGRESS = "seg-progress"
SEG_PROGRESS_MSG = "seg-progress-msg"
SEG_SWEEP_STATUS = "seg-sweep-status"
SEG_SWEEP_CHARTS = "seg-sweep-charts"
SEG_RECOMMENDATION = "seg-recommendation"
SEG_K = "seg-k"
SEG_RUN_CLUSTER = "seg-run-cluster"
SEG_CLUSTER_JOB = "seg-cluster-job"
SEG_CLUSTER_STATUS = "seg-cluster-status"
SEG_FORM_NOTE = "seg-form-note"

# ---- Insights page -------------------------------------------------------------------------------------------
INS_PIN = "ins-pin"  # the cluster job in the URL (/results/<id>) or None
INS_JOB = "ins-job"  # the cluster job shown
INS_RENDERED = "ins-rendered"
INS_CONTENT = "ins-content"  # wrapper shown once a result is rendered
INS_BARS = "ins-bars"
INS_PROFILE = "ins-profile"
INS_SCATTER_3D = "ins-scatter-3d"
INS_CROSSTAB = "ins-crosstab"
INS_OUTLIERS = "ins-outliers"
INS_ADVICE = "ins-advice"
INS_TABLE = "ins-table"
INS_STATUS = "ins-status"
INS_HEADER = "ins-header"
INS_BODY = "ins-body"
INS_X = "ins-x"
INS_Y = "ins-y"
INS_SCATTER = "ins-scatter"
INS_DIST_FEATURE = "ins-dist-feature"
INS_DIST = "ins-dist"
INS_DOWNLOAD_CSV = "ins-download-csv"
INS_DOWNLOAD_REPORT = "ins-download-report"

# ---- Jobs page -----------------------------------------------------------------------------------------------
JOBS_TABLE = "jobs-table"
JOBS_MSG = "jobs-msg"

# ---- Results page --------------------------------------------------------------------------------------------
RESULTS_MSG = "results-msg"


# ---- pattern-matching ids ------------------------------------------------------------------------------------
def select_dataset(dataset_id: str) -> dict:
    return {"type": "select-dataset", "id": dataset_id}


def mapping_role(role: str) -> dict:
    return {"type": "mapping-role", "role": role}


def cancel_job(job_id: str) -> dict:
    return {"type": "cancel-job", "id": job_id}


def kick(page: str) -> dict:
    """A page's store that it writes after submitting a job: the app refreshes the job list at once (and so
    switches polling on). Pattern-matched, so the app-level callback listens to whichever page is shown."""
    return {"type": "kick", "page": page}


def select_request(page: str) -> dict:
    """A page's store asking the app to select a dataset (the app owns the selected-dataset store)."""
    return {"type": "select-request", "page": page}
