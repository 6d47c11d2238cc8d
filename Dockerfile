# planworker on the embedded defaults: SQLite and a Maildir outbox in /data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PLANWORKER_DATABASE_URL=sqlite:////data/planworker.db

WORKDIR /app
COPY pyproject.toml README.md ./
COPY worker ./worker
RUN pip install .
COPY config ./config
COPY seed ./seed
COPY templates ./templates

RUN useradd --system --uid 10001 --home-dir /app planworker \
    && mkdir -p /data && chown planworker /data
USER planworker
VOLUME ["/data"]

# Migrations are applied on start; the service command arrives with the scheduler.
CMD ["sh", "-c", "planworker db upgrade && planworker plan show"]
