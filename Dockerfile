# syntax=docker/dockerfile:1
# The alignmon image: one console script, `alignmon`, for the gateway, the pipeline and the tools.
# Python 3.11 is the floor (DuckDB 2.0). Build: docker build -t alignmon:local .

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# .dockerignore keeps the venv, local state, caches and .git out of this copy.
COPY . .
# A venv under /opt so the runtime stage copies exactly what was installed, with no build leftovers.
RUN python -m venv /opt/alignmon \
    && /opt/alignmon/bin/pip install . \
    && /opt/alignmon/bin/alignmon --version

FROM python:3.11-slim
ENV PATH=/opt/alignmon/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ALIGNMON_STATE_DIR=/var/lib/alignmon
# A fixed non-root uid, and the data folders created here so named volumes inherit this owner.
RUN groupadd --system --gid 10001 alignmon \
    && useradd --system --uid 10001 --gid alignmon --home-dir /var/lib/alignmon --no-create-home \
       --shell /usr/sbin/nologin alignmon \
    && mkdir -p /var/lib/alignmon/spool /data/snapshot /catalog \
    && chown -R alignmon:alignmon /var/lib/alignmon /data /catalog
COPY --from=build /opt/alignmon /opt/alignmon
COPY LICENSE /usr/share/doc/alignmon/LICENSE
USER alignmon
WORKDIR /var/lib/alignmon
ENTRYPOINT ["alignmon"]
CMD ["--help"]
