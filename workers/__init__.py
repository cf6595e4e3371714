"""Celery workers and the job registry. Built by the job-queue issue; imports analysis, never dash."""
