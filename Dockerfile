# The Linli image: one `linli` command for every service of docker-compose.yml (serve, worker,
# migrate, collect). Everything is installed while building; nothing is fetched at runtime
# (plotly.js and the API docs' assets come from the installed packages).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Build: install the package and its dependencies into a virtualenv of their own.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/linli
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service service
COPY devices devices
COPY analytics analytics
COPY dashboards dashboards
RUN /opt/linli/bin/pip install .

# Run: the virtualenv alone, owned by root and run by an unprivileged user.
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/linli/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LINLI_HOST=0.0.0.0 \
    LINLI_DATA_DIR=/var/lib/linli
# A fixed uid, so that a gateway host can grant it Bluetooth over D-Bus (README).
RUN groupadd --system --gid 10001 linli \
    && useradd --system --uid 10001 --gid linli --home-dir /var/lib/linli --create-home \
        --shell /usr/sbin/nologin linli \
    && install -d -o linli -g linli /var/lib/linli-gateway
COPY --from=build /opt/linli /opt/linli
USER linli
WORKDIR /var/lib/linli
EXPOSE 8000
CMD ["linli", "serve"]
