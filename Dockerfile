# One image for every role of the service (web, worker, beat, migrate, flower) and for
# the bundled accrual simulator; docker-compose.yml picks the role with `command`.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# The servers run as this unprivileged user, never as root.
RUN groupadd --system --gid 10001 gophermart \
 && useradd --system --uid 10001 --gid gophermart --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin gophermart

WORKDIR /app

# The pinned dependencies first, in their own layer: a change to the source does not
# reinstall them. They are read from pyproject.toml, the only list of them, and every
# package they pull in is held to the version in requirements.lock, the one CI tested.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt -c requirements.lock \
 && rm /tmp/requirements.txt

# The source tree, migrations included (.dockerignore keeps tests, virtualenvs and local
# data out).
COPY README.md celery_worker.py wsgi.py gunicorn.conf.py ./
COPY config/ config/
COPY gophermart/ gophermart/
COPY accrual_sim/ accrual_sim/
COPY migrations/ migrations/

# Why an editable install: the service finds its migrations at PROJECT_ROOT/migrations,
# where PROJECT_ROOT is the folder above config/settings.py. A regular `pip install .`
# would put config/ into site-packages, so the service would look for
# site-packages/migrations and find nothing. Installed editable, the packages are
# imported from /app itself, so PROJECT_ROOT is /app and /app/migrations is found; the
# console scripts (gophermart, gophermart-accrual) are still installed on PATH, and
# accrual_sim/demo_seed.json is read from /app/accrual_sim. The tree stays owned by root
# and read-only for the service user; modules are compiled here, once.
RUN pip install --no-cache-dir --no-deps -e . \
 && python -m compileall -q config gophermart accrual_sim migrations celery_worker.py wsgi.py \
 && mkdir -p /app/instance \
 && chown gophermart:gophermart /app/instance

# The only folder the service writes to: the beat schedule, and the generated signing key
# or SQLite file when SECRET_KEY or DATABASE_URI are not set.
ENV INSTANCE_DIR=/app/instance

USER gophermart

EXPOSE 8080

# Exec form, no shell in between: the server is PID 1 and receives SIGTERM itself
# (gunicorn and Celery then shut down gracefully). No ENTRYPOINT, so a compose `command`
# such as `celery -A celery_worker flower` is the whole command line.
CMD ["gophermart", "web"]
