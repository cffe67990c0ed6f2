# partnercenter: gunicorn serving the site (README, Production). compose.yaml runs the same image
# for the migrations and the task workers, with another command.
#   docker build -t partnercenter .
#   docker run --env-file /etc/partnercenter.env -p 8000:8000 partnercenter
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The user the server runs as. The code below stays root's: the server cannot rewrite it.
RUN groupadd --system partnercenter \
    && useradd --system --gid partnercenter --no-create-home --shell /usr/sbin/nologin partnercenter

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. requirements.lock is the one lock
# `make lock` writes (pip-compile --extra dev): it pins the dev extras too (pytest, playwright's
# client, ruff, schemathesis...: about 210 MB, mostly playwright's driver), and they are
# installed here with the rest, since a lock checked by hash is taken whole. The server never
# imports them; a second, runtime-only lock would leave them out. Every pin is a wheel: no
# compiler needed.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY . .

# The hashed static files WhiteNoise serves, built into the image. The settings refuse to load
# without a secret key: this one exists only for this command, never in the image's environment.
RUN DJANGO_SECRET_KEY=build-only-not-a-secret python manage.py collectstatic --no-input

USER partnercenter
EXPOSE 8000

# /healthz answers 200 while the process is up, without the database. It is asked with the first
# of DJANGO_ALLOWED_HOSTS as Host and as HTTPS, as the proxy would (DJANGO_SECURE=1 redirects
# plain http), never through an HTTP_PROXY. Slim has no curl: Python's urllib.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; h = os.environ.get('DJANGO_ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('.*') or 'localhost'; u.build_opener(u.ProxyHandler({})).open(u.Request('http://127.0.0.1:8000/healthz', headers={'Host': h, 'X-Forwarded-Proto': 'https'}), timeout=4)"]

# On SIGTERM gunicorn stops accepting and lets requests in flight finish (its --graceful-timeout,
# 30 s by default): give `docker stop` longer than that (-t 40; compose.yaml's stop_grace_period).
STOPSIGNAL SIGTERM
# The README's Production command, bound to every interface of the container. A command, not an
# entrypoint, so that compose.yaml's migrate and worker services replace it.
CMD ["gunicorn", "partnercenter.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--no-control-socket"]
