# best_app: a two-stage image. The builder makes a virtualenv from wheels; the final stage
# holds only that virtualenv, the migrations and the entrypoint, and runs as a non-root user.
#   docker build -t best_app .
#   docker build --build-arg PYTHON_IMAGE=python:3.13-slim -t best_app .
ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY best_app ./best_app
RUN /opt/venv/bin/pip install .

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
    PORT=8000
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["best-app", "healthcheck"]
ENTRYPOINT ["tini", "--", "/app/entrypoint.sh"]
CMD ["hypercorn", "--config", "python:best_app.serving", "best_app:create_app()"]
