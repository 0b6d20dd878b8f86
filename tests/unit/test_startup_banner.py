"""The start-up walkthrough of the all-in-one run prints no secret."""

from config import load_settings
from gophermart.runtime.cli import walkthrough


def test_walkthrough_hides_the_redis_password():
    settings = load_settings(
        argv=[],
        environ={"REDIS_URL": "redis://user:s3cret-pw@redis:6379/0", "DATABASE_URI": "postgresql://u:db-pw@db/g"},
    )
    text = walkthrough(settings, "http://accrual:8080", bundled_simulator=False)
    assert "s3cret-pw" not in text and "db-pw" not in text
    assert "redis://user:***@redis:6379/0" in text
