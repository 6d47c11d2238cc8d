# planworker: the scheduled reminder and escalation service.
#
# Defaults: one instance, a SQLite database and a Maildir outbox in the /data volume.
# Several instances need PostgreSQL: see docs/container.md and docs/docker-compose.yml.
#
#   docker build -t planworker .
#   docker run -d --name planworker -v planworker-data:/data -e PLANWORKER_SEED_FILE=/etc/planworker/cbc-action-plan-2012-13.yaml planworker
# Stage 1: the wheel, exactly what `pip install .` installs (templates, example config and
# seed inside the package).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY worker worker
COPY templates templates
COPY config config
COPY seed seed
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# Stage 2: the image.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The dependencies first, pinned with their hashes (requirements.lock, made by pip-compile
# from pyproject.toml; its header gives the command), so that a code change does not
# reinstall them and a rebuild installs exactly what was tested.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

# Then the package itself, from the wheel; no source tree in the image.
COPY --from=build /dist/ /tmp/dist/
RUN pip install --no-cache-dir --no-deps /tmp/dist/*.whl \
    && rm -rf /tmp/dist

# The site's files in /etc/planworker, where planworker looks for its config: the commented
# config, the example contacts and the seed plan (`planworker init`). Mount your own folder
# there (or set PLANWORKER_CONFIG / PLANWORKER_CONTACTS_FILE) for a real council.
COPY docker/entrypoint.sh /app/docker/entrypoint.sh
RUN planworker init /etc/planworker

# A non-root user owning only /data. The home folder is /data (nothing is written there
# besides the database, the outbox and the SQLite run lock).
RUN groupadd --system --gid 10001 planworker \
    && useradd --system --uid 10001 --gid planworker --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin planworker \
    && mkdir -p /data/outbox \
    && chown -R planworker:planworker /data \
    && chmod 0755 /app/docker/entrypoint.sh

# Settings for the container; every other key keeps its value from
# /etc/planworker/planworker.toml and can be set with PLANWORKER_<KEY> (see docs/container.md). No secret is set here: pass
# them at run time, preferably as files (PLANWORKER_SMTP__PASSWORD_FILE=/run/secrets/...).
ENV PLANWORKER_DATABASE_URL=sqlite:////data/planworker.db \
    PLANWORKER_MAIL__MAILDIR=/data/outbox

USER planworker
VOLUME ["/data"]

# `planworker health` exits 1 when the database is unreachable, a job's scheduled run has
# not succeeded, or mail failed or is stuck in the outbox; it never logs in to the mail
# server. The service runs what is due at start, so a minute or two is enough before
# failures count.
HEALTHCHECK --interval=30s --timeout=20s --start-period=120s --retries=3 \
    CMD ["planworker", "health"]

# Migrates the database (and imports $PLANWORKER_SEED_FILE into an empty one), then runs
# the command.
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["planworker", "run"]
