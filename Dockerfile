# syntax=docker/dockerfile:1
#
# Two images from one file, both on Python 3.11 with uv:
#
#   lab (the default)  every lab process (API, worker, Flower): the project's
#                      runtime dependencies only, installed by uv from the lock
#                      file. docker-compose.yml chooses the process:
#                      queuelabs run-process 02 api  (labs/02-*/lab.toml [processes])
#   dev                the dev container (.devcontainer/): tools only; `make setup`
#                      installs everything into the workspace's .venv, as on a laptop.
#
# BuildKit builds it (RUN --mount): Docker Desktop and Docker Engine 23+ use it
# by default; on older Linux packages install buildx (README, Docker).

FROM python:3.11-slim AS base

# uv, pinned, copied from its official image.
COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /uvx /bin/

ENV PYTHONUNBUFFERED=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never

# Run as an ordinary user, not root (Celery warns about root, rightly).
RUN useradd --create-home --uid 1000 queuelabs


FROM base AS dev

# make runs every entry point; socat joins the compose servers to 127.0.0.1 (see
# .devcontainer/forward-ports.sh); git for your work; procps for ps and kill.
RUN apt-get update && \
    apt-get install -y --no-install-recommends make git socat procps && \
    rm -rf /var/lib/apt/lists/*
USER queuelabs


FROM base AS lab

ENV PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH="/opt/venv/bin:$PATH"

WORKDIR /app

# 1. The dependencies alone, from the lock file: this layer is rebuilt only
#    when pyproject.toml or uv.lock change, not when a lab's code does.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-install-project --no-default-groups

# 2. The project itself (the queuelabs package and the labs). Installed
#    editable, so `queuelabs` finds labs/ next to it under /app.
COPY . /app
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups

# The user owns the run folder, where beat keeps its schedule file.
RUN mkdir -p /app/.run && chown queuelabs:queuelabs /app/.run
USER queuelabs

# docker-compose.yml gives each service its own command.
CMD ["queuelabs", "--help"]
