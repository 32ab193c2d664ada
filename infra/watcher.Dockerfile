# The PR watcher (chalicelib/forge/watcher.py): one Deployment on the agents' EKS cluster that polls
# GitHub every 30 s. Build from the repository root (make deploy does):
#   docker build -f infra/watcher.Dockerfile -t optio-watcher .
FROM python:3.11-slim-bookworm

COPY requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir --disable-pip-version-check -r /app/requirements.txt
COPY chalicelib /app/chalicelib
COPY infra/watcher_entrypoint.py /app/watcher_entrypoint.py

RUN useradd --create-home --uid 1000 --user-group optio
ENV PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 1000:1000
WORKDIR /app
CMD ["python", "/app/watcher_entrypoint.py"]
