"""gunicorn's configuration for `gunicorn wsgi:app` (read from the working directory): the
same server as `gophermart web`, from the service's settings (RUN_ADDRESS, WEB_WORKERS,
WEB_THREADS, LOG_LEVEL, LOG_FORMAT, INSTANCE_DIR). Options given on gunicorn's command line
still win over these."""

import sys

from config import SettingsError, load_settings
from gophermart.logging import configure_logging
from gophermart.runtime.web_server import gunicorn_options, prepare_server

try:
    _settings = load_settings(argv=[])  # gunicorn's own arguments are not the service's flags
except SettingsError as exc:  # one line and exit code 2, as `gophermart` answers
    print(f"gophermart: bad setting: {exc}", file=sys.stderr)
    raise SystemExit(2) from None

# In the master, before gunicorn's logger is made (its lines take the service's format) and
# before any worker imports the app (and with it prometheus_client).
configure_logging(_settings.log_level, _settings.log_format)
prepare_server(_settings)
globals().update(gunicorn_options(_settings))
