import pytest

from config import SettingsError, load_settings


def test_defaults():
    settings = load_settings(argv=[], environ={})
    assert settings.run_address == "localhost:8080"
    assert settings.bind == ("localhost", 8080)
    assert settings.database_uri is None
    assert settings.resolved_database_uri.startswith("sqlite:///")
    assert settings.accrual_system_address is None


def test_flag_overrides_environment():
    env = {
        "RUN_ADDRESS": "localhost:9000",
        "DATABASE_URI": "postgres://u:p@db:5432/x",
        "ACCRUAL_SYSTEM_ADDRESS": "acc:1",
    }
    settings = load_settings(argv=["-a", ":7000", "-r", "http://other:2/"], environ=env)
    assert settings.bind == ("0.0.0.0", 7000)
    assert settings.database_uri == "postgresql+psycopg2://u:p@db:5432/x"
    assert settings.accrual_system_address == "http://other:2"


@pytest.mark.parametrize(
    "raw",
    [
        "postgres://u:p@db:5432/x",
        "postgresql://u:p@db:5432/x",
        "POSTGRESQL://u:p@db:5432/x",
        "postgresql+psycopg2://u:p@db:5432/x",
        "postgresql+psycopg://u:p@db:5432/x",  # psycopg 3's scheme, the service's own before
    ],
)
def test_every_postgresql_uri_runs_on_psycopg2(raw):
    settings = load_settings(argv=[], environ={"DATABASE_URI": raw})
    assert settings.database_uri == "postgresql+psycopg2://u:p@db:5432/x"


def test_a_uri_handed_in_as_an_override_runs_on_psycopg2_too():
    settings = load_settings(argv=[], environ={}, database_uri="postgresql://u@db/x")
    assert settings.resolved_database_uri == "postgresql+psycopg2://u@db/x"


@pytest.mark.parametrize("raw", ["postgresql+asyncpg://u@db/x", "postgresql+pg8000://u@db/x", "postgres+foo://u@db/x"])
def test_another_postgresql_driver_is_refused_by_name(raw):
    with pytest.raises(SettingsError, match=r"DATABASE_URI.*unsupported PostgreSQL driver .*psycopg2"):
        load_settings(argv=[], environ={"DATABASE_URI": raw})


@pytest.mark.parametrize(
    "raw,expected",
    [("localhost:8081", "http://localhost:8081"), ("http://a:1/", "http://a:1"), ("https://a.b", "https://a.b")],
)
def test_accrual_address_with_or_without_scheme_and_slash(raw, expected):
    assert load_settings(argv=[], environ={"ACCRUAL_SYSTEM_ADDRESS": raw}).accrual_system_address == expected


@pytest.mark.parametrize(
    "env,needle",
    [
        ({"RUN_ADDRESS": "nope"}, "RUN_ADDRESS"),
        ({"RUN_ADDRESS": "host:99999"}, "RUN_ADDRESS"),
        ({"DATABASE_URI": "mysql://x/y"}, "DATABASE_URI"),
        ({"TOKEN_TTL_SECONDS": "-5"}, "TOKEN_TTL_SECONDS"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"PASSWORD_HASH_COST": "cheap"}, "PASSWORD_HASH_COST"),
        ({"METRICS_ADDRESS": "no-port"}, "METRICS_ADDRESS"),
    ],
)
def test_bad_values_name_the_setting(env, needle):
    with pytest.raises(SettingsError, match=needle):
        load_settings(argv=[], environ=env)


def test_bad_flag_names_the_flag():
    with pytest.raises(SettingsError, match=r"RUN_ADDRESS \(-a\)"):
        load_settings(argv=["-a", "bad"], environ={})
    with pytest.raises(SettingsError, match=r"RUN_ADDRESS \(-a\)"):
        load_settings(flags={"run_address": "bad"}, environ={})


def test_flags_already_parsed_are_taken_as_from_argv():
    env = {"RUN_ADDRESS": "localhost:9000", "ACCRUAL_SYSTEM_ADDRESS": "acc:1"}
    settings = load_settings(flags={"run_address": ":7000", "accrual_system_address": None}, environ=env)
    assert settings.bind == ("0.0.0.0", 7000)  # coerced as a flag, over the environment
    assert settings.accrual_system_address == "http://acc:1"  # None: not given


def test_choices_are_taken_in_any_case():
    settings = load_settings(
        argv=[], environ={"LOG_LEVEL": "debug", "LOG_FORMAT": "TEXT", "PASSWORD_HASH_COST": " Low "}
    )
    assert (settings.log_level, settings.log_format, settings.password_hash_cost) == ("DEBUG", "text", "low")
