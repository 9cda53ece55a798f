# huren (互认) verification service.
#   docker build -t huren .
#   docker run -p 8000:8000 -v "$PWD/.demo:/data" huren      # /data holds huren.json
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
RUN pip install --no-cache-dir . \
    && groupadd --system --gid 10001 huren \
    && useradd --system --uid 10001 --gid huren --home-dir /data --shell /usr/sbin/nologin huren \
    && mkdir -p /data \
    && chown huren:huren /data

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]

CMD ["huren", "serve", "--config", "/data/huren.json", "--host", "0.0.0.0", "--port", "8000"]
