# syntax=docker/dockerfile:1
# One image for the whole suite; each Deployment picks its service by command:
#   python -m services.ratelimit | services.cost | services.router | services.flags |
#   services.prompts, python -m gateway, and python -m scripts.backup for the backup CronJob.
# Build: docker build -t ghcr.io/switchboard/switchboard:0.1.0 .
#
# The base is pinned to an exact Python patch release on Debian bookworm; releases pin it by
# digest as well (docker buildx imagetools inspect python:3.11.14-slim-bookworm), Renovate/
# Dependabot bump both. Dependencies install from requirements.lock with hashes checked.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install --require-hashes -r /tmp/requirements.lock \
 # xds-protos ships an old copy of opentelemetry-proto's modules over the real ones, which breaks
 # the OTLP exporter: reinstall opentelemetry-proto last so its files win (as the Makefile does).
 && /opt/venv/bin/pip install --no-deps --force-reinstall \
      "$(grep -oE '^opentelemetry-proto==[^ ]+' /tmp/requirements.lock)"
WORKDIR /app
COPY svckit/ svckit/
COPY services/ services/
COPY gateway/ gateway/
COPY gen/python/ gen/python/
COPY config/ config/
COPY scripts/ scripts/
# The root filesystem is read-only at run time: compile the bytecode now.
RUN python -m compileall -q /app /opt/venv

FROM ${PYTHON_IMAGE} AS runtime
# pg_dump/pg_restore for the backup CronJob (scripts/backup.py). Bookworm ships client 15: it
# dumps servers up to 15; for a newer server install its client from apt.postgresql.org here.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 switchboard \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin switchboard
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/gen/python \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8080 50051 50052 50053 50054 50055 9051 9052 9053 9054 9055
CMD ["python", "-m", "gateway"]
