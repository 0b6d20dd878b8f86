"""The signing key for sessions and tokens: configured, or generated once and kept."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path


def load_or_create_secret_key(instance_dir: str) -> str:
    """Read the instance's key file, creating it atomically on first start.

    Kept on disk so sessions and tokens survive a restart; O_EXCL makes concurrent first
    starts (several gunicorn workers) agree on one key.
    """
    path = Path(instance_dir) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it right now
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.01)
        raise RuntimeError(f"the secret key file {path} is empty; delete it or set SECRET_KEY") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
