# The PR watcher (chalicelib/forge/watcher.py): one Deployment on the agents' EKS cluster that polls
# GitHub every 30 s. Build from the repository root (make deploy does):
#   docker build -f infra/watcher.Dockerfile -t optio-watcher .
FROM python:3.11-slim-bookworm

COPY requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir --disable-pip-version-check -r /app/requirements.txt
COPY chalicelib /app/chalicelib
COPY infra/watcher_entrypoint.py /app/watcher_entrypoint.py

# A UID above the host's own users (checkov CKV_K8S_40), the Deployment's runAsUser too.
RUN useradd --create-home --uid 10001 --user-group optio
ENV PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /app
# Docker's own check, for a watcher run outside Kubernetes (the Deployment's liveness probe is the
# same command): the last poll is at most the stack's WATCHER_STALE_S old.
HEALTHCHECK --interval=60s --timeout=10s CMD ["python", "/app/watcher_entrypoint.py", "--alive", "3690"]
CMD ["python", "/app/watcher_entrypoint.py"]
