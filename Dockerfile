# syntax=docker/dockerfile:1
# One image for every part of Switchboard; the command picks the part:
#   docker run IMAGE serve router        (or planner, tool-broker, governance, pii, session, mocks)
#   docker run IMAGE gateway run         (Envoy in front of the router)
# Build: docker build -t switchboard:dev .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
# The same uv as `make setup` (Makefile: UV_VERSION), from its official image.
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first, exactly as uv.lock pins them, so a code change reuses this layer.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked --no-dev --no-install-project
COPY . .
# The project itself stays an editable install: services find packs/, governance/, gateway/ and
# the mocks' contracts next to their code under /app.
RUN --mount=type=cache,target=/root/.cache/uv uv sync --locked --no-dev
# The gateway's descriptor set, built from protos/ now, so pods never write into /app.
RUN .venv/bin/python -c "from services.gateway_runner import build_descriptor_set as b; print(b())"

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 switchboard \
 && useradd --system --uid 10001 --gid switchboard --no-create-home --home-dir /nonexistent switchboard
WORKDIR /app
COPY --from=build /app /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp
USER 10001:10001
EXPOSE 8080 50051 50052 50053 50054 50055 50056
ENTRYPOINT ["switchboard"]
CMD ["serve", "router"]
