# planworker: the scheduled reminder and escalation service.
#
# Defaults: one instance, a SQLite database and a Maildir outbox in the /data volume.
# Several instances need PostgreSQL: see docs/container.md and docs/docker-compose.yml.
#
#   docker build -t planworker .
#   docker run -d --name planworker -v planworker-data:/data -e PLANWORKER_SEED_FILE=/app/seed/cbc-action-plan-2012-13.yaml planworker
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The dependencies first, read from pyproject.toml, so that editing the code does not
# reinstall them: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The source tree as in a checkout. The shipped templates are found beside the package
# (worker/configure.py: SHIPPED_TEMPLATES is <source root>/templates), so the package is
# installed in place (editable) rather than copied into site-packages, where templates/
# would be missing. /app stays owned by root: the service cannot change its own code.
COPY . .
RUN pip install --no-cache-dir --no-deps -e /app \
    && python -m compileall -q /app/worker

# A non-root user owning only /data. The home folder is /data (nothing is written there
# besides the database, the outbox and the SQLite run lock).
RUN groupadd --system --gid 10001 planworker \
    && useradd --system --uid 10001 --gid planworker --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin planworker \
    && mkdir -p /data/outbox \
    && chown -R planworker:planworker /data \
    && chmod 0755 /app/docker/entrypoint.sh

# Settings for the container; every other key keeps its default from config/planworker.toml
# and can be set with PLANWORKER_<KEY> (see docs/container.md). No secret is set here: pass
# them at run time, preferably as files (PLANWORKER_SMTP__PASSWORD_FILE=/run/secrets/...).
ENV PLANWORKER_DATABASE_URL=sqlite:////data/planworker.db \
    PLANWORKER_MAIL__MAILDIR=/data/outbox

USER planworker
VOLUME ["/data"]

# `planworker health` exits 1 when the database or mail backend is unreachable or a job's
# scheduled run has not succeeded. The service runs what is due at start, so a minute or
# two is enough before failures count.
HEALTHCHECK --interval=30s --timeout=20s --start-period=120s --retries=3 \
    CMD ["planworker", "health"]

# Migrates the database (and imports $PLANWORKER_SEED_FILE into an empty one), then runs
# the command.
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["planworker", "run"]
