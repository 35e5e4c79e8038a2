# Roadie's container image: the wheel on a slim Python, run as a user without privileges.
#   podman build -t roadie .        (or docker build)
# The config is read from /etc/roadie/roadie.toml (mount it; deploy/roadie.toml is a start),
# secrets from files under /run/secrets. See docs/deploy.md.

FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE CHANGELOG.md config.example.toml ./
COPY bot ./bot
COPY cogs ./cogs
COPY governance ./governance
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ROADIE_CONFIG=/etc/roadie/roadie.toml
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/roadie --create-home roadie
COPY --from=build /wheels/ /tmp/wheels/
RUN pip install /tmp/wheels/roadie-*.whl && rm -rf /tmp/wheels
COPY --chown=root:root deploy/roadie.toml /etc/roadie/roadie.toml
USER roadie
WORKDIR /var/lib/roadie
VOLUME ["/var/lib/roadie"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["roadie", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["roadie"]
CMD ["run"]
