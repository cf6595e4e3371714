"""Worker-side pure pieces: configuration from the environment, parameter normalisation, request keys."""

from __future__ import annotations

import pytest

from analysis.errors import AnalysisError
from workers.config import load_settings
from workers.params import normalise
from workers.registry import request_key

RFM = ["recency_days", "frequency", "monetary"]


def test_settings_defaults_and_derived_limits():
    s = load_settings({})
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert (s.soft_time_limit, s.time_limit, s.visibility_timeout) == (1800, 1860, 2160)
    assert s.stale_after == 2160 + 1860
    assert s.threads_per_process == 1 and s.worker_lost_max_retries == 3
    s = load_settings({"TASK_SOFT_TIME_LIMIT": "10", "REDIS_URL": "redis://h:1/2", "SEGMENTS_DATA_DIR": "/tmp/x"})
    assert (s.time_limit, s.visibility_timeout, s.redis_url) == (70, 370, "redis://h:1/2")
    assert str(s.datasets_dir) == "/tmp/x/datasets"


@pytest.mark.parametrize("env, message", [
    ({"TASK_SOFT_TIME_LIMIT": "abc"}, "TASK_SOFT_TIME_LIMIT='abc' is not a number"),
    ({"TASK_SOFT_TIME_LIMIT": "100", "TASK_TIME_LIMIT": "50"}, "must be above TASK_SOFT_TIME_LIMIT"),
    ({"TASK_TIME_LIMIT": "100", "TASK_SOFT_TIME_LIMIT": "50", "REDIS_VISIBILITY_TIMEOUT": "80"},
     "REDIS_VISIBILITY_TIMEOUT (80) must be above TASK_TIME_LIMIT (100)"),
    ({"WORKER_CONCURRENCY": "-1"}, "must be positive"),
    ({"TASK_SOFT_TIME_LIMIT": "50", "JOB_STALE_AFTER": "100"}, "JOB_STALE_AFTER (100) must be above TASK_TIME_LIMIT"),
    ({"TEAM_MAX_ACTIVE_JOBS": "-2"}, "TEAM_MAX_ACTIVE_JOBS must be 0 (no limit) or more"),
])
def test_bad_settings_name_the_variable(env, message):
    with pytest.raises(ValueError) as err:
        load_settings(env)
    assert message in str(err.value)


def test_defaults_spelled_out_or_left_out_give_the_same_request():
    short = normalise("sweep", {}, default_features=RFM)
    long = normalise("sweep", {"k": "2..10", "features": RFM, "log": "auto", "scaling": "standard",
                               "random_state": 0, "n_init": 10, "stability_seeds": 3,
                               "rules": {"duplicates": False}, "as_of": ""}, default_features=RFM)
    assert short == long
    assert short["k_values"] == list(range(2, 11))
    assert short["rules"]["missing_customer_id"] is True
    assert request_key("sweep", "d1", short) == request_key("sweep", "d1", long)
    assert request_key("sweep", "d1", short) != request_key("sweep", "d2", short)
    assert normalise("sweep", {"k": [5, 3, 3, 4]}, default_features=RFM)["k_values"] == [3, 4, 5]


def test_describe_params_are_only_rules_and_as_of():
    assert normalise("describe", {"as_of": "2011-12-10"}, default_features=RFM) == {
        "rules": normalise("describe", {}, default_features=RFM)["rules"], "as_of": "2011-12-10T00:00:00"}


@pytest.mark.parametrize("kind, params, message", [
    ("cluster", {}, "Parameter 'k' is required"),
    ("cluster", {"k": 2.5}, "Parameter 'k' must be a whole number"),
    ("cluster", {"k": 0}, "must be between 1 and 100,000"),
    ("sweep", {"k": "1-4"}, "2"),
    ("sweep", {"scaling": "minmax"}, "Scaling 'minmax' is not one of standard, robust, none"),
    ("sweep", {"features": ["frequency", "frequency"]}, "listed twice"),
    ("sweep", {"log": ["monetary", "age"], "features": RFM}, "Cannot log-transform age"),
    ("describe", {"as_of": "someday"}, "As-of date 'someday' is not a date"),
    ("describe", {"rules": {"nope": True}}, "Unknown cleaning rule 'nope'"),
    ("segment", {}, "Unknown job kind 'segment'"),
])
def test_bad_parameters_are_user_errors(kind, params, message):
    with pytest.raises(AnalysisError) as err:
        normalise(kind, params, default_features=RFM)
    assert message in err.value.message
