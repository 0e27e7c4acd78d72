# best_app: a two-stage image. The builder installs exactly the versions in uv.lock into a
# virtualenv; the final stage holds only that virtualenv, the migrations and the entrypoint, and
# runs as a non-root user.
#   docker build -t best_app .
#   podman build --format docker -t best_app .    (podman's default OCI format drops HEALTHCHECK)
#   docker build --build-arg PYTHON_IMAGE=python:3.13-slim -t best_app .
# The default Python is the one the tests run (3.11): on 3.12 and later, Hypercorn 0.18 ignores
# graceful_timeout on shutdown (hypercorn#308), so a drain waits for every open connection.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
# uv from PyPI, in a virtualenv of its own that the final stage does not copy.
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m venv /opt/uv && /opt/uv/bin/pip install "uv==${UV_VERSION}"
WORKDIR /src
# The dependencies first, from the lock alone: this layer is rebuilt only when uv.lock changes.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --frozen --no-install-project --no-editable
COPY README.md ./
COPY best_app ./best_app
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --frozen --no-editable

# Development (docker-compose.dev.yml, --target dev): every locked dev tool, the project
# installed editable from /src, where that compose file mounts the working tree.
FROM builder AS dev
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --frozen --extra dev
ENV PATH=/opt/venv/bin:/opt/uv/bin:$PATH \
    PYTHONUNBUFFERED=1
CMD ["hypercorn", "--config", "python:best_app.ops.serving", "--reload", "best_app:create_app()"]

FROM ${PYTHON_IMAGE}
# tini is PID 1: it forwards signals to the server and reaps zombie processes.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home app
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY alembic.ini ./
COPY alembic ./alembic
COPY scripts/entrypoint.sh ./entrypoint.sh
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    WEB_CONCURRENCY=1
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["best-app", "healthcheck"]
ENTRYPOINT ["tini", "--", "/app/entrypoint.sh"]
# One process that drains on SIGTERM (WEB_CONCURRENCY=1 above): a container is a replica, scaled
# by running more of them. Multi-worker: WEB_CONCURRENCY=N, or `auto` for the CPU quota of the
# container's cgroup (best_app/cpus.py), never the host's CPU count; `best-app serve` then runs
# Hypercorn's multi-worker parent, which does not drain.
CMD ["best-app", "serve"]
