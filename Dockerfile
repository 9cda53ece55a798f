# huren (互认) verification service. The production guide is docs/deployment.md; in short:
#   huren demo export-server .demo srv && sudo chown -R 10001:10001 srv   # no operator keys
#   docker build -t huren .
#   docker run -p 8000:8000 -v "$PWD/srv:/srv/huren:ro" -v huren-state:/var/lib/huren huren
# /srv/huren: the server directory, shared read-only by every replica. /var/lib/huren: this
# replica's own trust directory (seeded from /srv/huren/trust on first start) and audit log.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY keys ./keys
COPY trust_lists ./trust_lists
COPY verifier ./verifier
COPY api ./api
COPY cli ./cli
COPY deploy/entrypoint.sh /usr/local/bin/huren-entrypoint
RUN pip install --no-cache-dir . \
    && groupadd --system --gid 10001 huren \
    && useradd --system --uid 10001 --gid huren --home-dir /var/lib/huren --shell /usr/sbin/nologin huren \
    && mkdir -p /srv/huren /var/lib/huren \
    && chown huren:huren /var/lib/huren \
    && chmod 0750 /var/lib/huren

USER 10001:10001
WORKDIR /var/lib/huren
VOLUME ["/var/lib/huren"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]

ENTRYPOINT ["/usr/local/bin/huren-entrypoint"]
