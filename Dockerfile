# syntax=docker/dockerfile:1
#
# One image for every lab process (API, worker, Flower): Python 3.11 and the
# project's runtime dependencies only, installed by uv from the lock file.
# The native-only parts (mongod in a wheel), the grader's and the notebooks'
# dependency groups stay out. docker-compose.yml chooses the process:
#
#   queuelabs run-process 02 api      (reads labs/02-*/lab.toml [processes])
#
# BuildKit builds it (RUN --mount): Docker Desktop and Docker Engine 23+ use it
# by default; older Linux packages need buildx (README, Docker). The dev
# container has its own, smaller image: .devcontainer/Dockerfile.

FROM python:3.11-slim AS lab

# uv, pinned, copied from its official image.
COPY --from=ghcr.io/astral-sh/uv:0.13.8 /uv /uvx /bin/

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
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

# Run as an ordinary user, not root (Celery warns about root, rightly). It owns
# the run folder, where beat keeps its schedule file.
RUN useradd --create-home --uid 1000 queuelabs && \
    mkdir -p /app/.run && chown queuelabs:queuelabs /app/.run
USER queuelabs

# docker-compose.yml gives each service its own command.
CMD ["queuelabs", "--help"]
