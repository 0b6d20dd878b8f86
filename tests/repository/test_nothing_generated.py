"""git holds sources, not what running the service or its tests writes."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What the service, its broker, its tests and its packaging write when they run.
GENERATED = ("control/", "instance/", "broker/", ".venv/", "__pycache__/", ".egg-info/", ".pytest_cache/")


def test_git_holds_nothing_the_service_or_its_tests_write():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert tracked, "not a git checkout"
    written = [path for path in tracked if any(part in f"/{path}" for part in (f"/{g}" for g in GENERATED))]
    written += [
        path for path in tracked if path.endswith((".pyc", ".sqlite3", ".log")) or "celerybeat-schedule" in path
    ]
    assert written == []
