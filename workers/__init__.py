"""Celery workers and the job registry. Built by the job-queue issue; imports analysis, never dash."""

import analysis  # noqa: F401  (first: it sets polars' allocator options, which are read when polars loads)
