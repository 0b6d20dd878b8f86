import pytest

from accrual_sim.settings import SettingError, SimConfig, load_settings


def load(argv=(), env=None):
    return load_settings(list(argv), env or {})


def test_defaults():
    settings = load()
    assert (settings.host, settings.port) == ("localhost", 8081)
    assert settings.config == SimConfig(
        rate_limit=0, rate_window=60.0, calc_seconds=1.5, fault_rate=0.0, latency_ms=0.0, random_seed=None
    )
    assert settings.seed_file is None
    assert settings.demo is False
    assert settings.threads == 32
    assert settings.log_level == "INFO"


def test_environment_then_flags():
    env = {
        "RUN_ADDRESS": ":9000",
        "ACCRUAL_RATE_LIMIT": "10",
        "ACCRUAL_RATE_WINDOW": "2.5",
        "ACCRUAL_CALC_SECONDS": "0.3",
        "ACCRUAL_FAULT_RATE": "0.25",
        "ACCRUAL_LATENCY_MS": "15",
        "ACCRUAL_RANDOM_SEED": "7",
        "ACCRUAL_SEED_FILE": "seed.json",
        "ACCRUAL_DEMO": "yes",
        "ACCRUAL_THREADS": "4",
        "LOG_LEVEL": "debug",
    }
    settings = load(env=env)
    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert settings.config == SimConfig(10, 2.5, 0.3, 0.25, 15.0, 7)
    assert (settings.seed_file, settings.demo, settings.threads, settings.log_level) == (
        "seed.json",
        True,
        4,
        "DEBUG",
    )

    flags = [
        "-a",
        "127.0.0.1:9100",
        "--rate-limit",
        "3",
        "--rate-window",
        "1",
        "--calc-time",
        "0",
        "--fault-rate",
        "1",
        "--latency-ms",
        "0",
        "--random-seed",
        "8",
        "--seed-file",
        "other.json",
        "--no-demo",
        "--threads",
        "2",
        "--log-level",
        "WARNING",
    ]
    settings = load(flags, env)
    assert (settings.host, settings.port) == ("127.0.0.1", 9100)
    assert settings.config == SimConfig(3, 1.0, 0.0, 1.0, 0.0, 8)
    assert (settings.seed_file, settings.demo, settings.threads, settings.log_level) == (
        "other.json",
        False,
        2,
        "WARNING",
    )
    assert load(["--demo"]).demo is True


def test_empty_environment_variable_counts_as_unset():
    assert load(env={"ACCRUAL_RATE_LIMIT": "", "RUN_ADDRESS": " "}).port == 8081


@pytest.mark.parametrize(
    ("raw", "host", "port"),
    [
        ("localhost:8081", "localhost", 8081),
        (":8081", "0.0.0.0", 8081),
        ("0.0.0.0:1", "0.0.0.0", 1),
        ("[::1]:8081", "::1", 8081),
        ("http://127.0.0.1:8081/", "127.0.0.1", 8081),
    ],
)
def test_addresses(raw, host, port):
    settings = load(["-a", raw])
    assert (settings.host, settings.port) == (host, port)


def test_ipv6_address_is_bracketed_for_binding():
    assert load(["-a", "[::1]:8081"]).address == "[::1]:8081"
    assert load(["-a", ":8081"]).address == "0.0.0.0:8081"


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["-a", "8081"], {}, "--address"),
        (["-a", "host:port"], {}, "--address"),
        ([], {"RUN_ADDRESS": "host:0"}, "RUN_ADDRESS"),
        ([], {"RUN_ADDRESS": "host:70000"}, "RUN_ADDRESS"),
        (["--rate-limit", "abc"], {}, "--rate-limit"),
        (["--rate-limit", "-1"], {}, "--rate-limit"),
        (["--rate-limit", "1.5"], {}, "--rate-limit"),
        ([], {"ACCRUAL_RATE_LIMIT": "x"}, "ACCRUAL_RATE_LIMIT"),
        (["--rate-window", "0"], {}, "--rate-window"),
        ([], {"ACCRUAL_RATE_WINDOW": "nan"}, "ACCRUAL_RATE_WINDOW"),
        (["--calc-time", "-1"], {}, "--calc-time"),
        ([], {"ACCRUAL_CALC_SECONDS": "inf"}, "ACCRUAL_CALC_SECONDS"),
        (["--fault-rate", "1.5"], {}, "--fault-rate"),
        ([], {"ACCRUAL_FAULT_RATE": "-0.1"}, "ACCRUAL_FAULT_RATE"),
        (["--latency-ms", "-5"], {}, "--latency-ms"),
        ([], {"ACCRUAL_LATENCY_MS": "a lot"}, "ACCRUAL_LATENCY_MS"),
        (["--random-seed", "x"], {}, "--random-seed"),
        (["--threads", "0"], {}, "--threads"),
        ([], {"ACCRUAL_THREADS": "5000"}, "ACCRUAL_THREADS"),
        (["--log-level", "LOUD"], {}, "--log-level"),
        ([], {"LOG_LEVEL": "verbose"}, "LOG_LEVEL"),
        ([], {"ACCRUAL_DEMO": "maybe"}, "ACCRUAL_DEMO"),
        (["--no-such-flag"], {}, "--no-such-flag"),
        (["--rate-limit"], {}, "--rate-limit"),
    ],
)
def test_bad_values_name_the_setting_in_one_line(argv, env, named):
    with pytest.raises(SettingError) as error:
        load(argv, env)
    message = str(error.value)
    assert named in message
    assert "\n" not in message


def test_flag_error_wins_over_a_good_environment_value():
    with pytest.raises(SettingError, match="--calc-time"):
        load(["--calc-time", "soon"], {"ACCRUAL_CALC_SECONDS": "1"})


def test_runtime_config_update():
    config = SimConfig()
    new = config.updated({"rate_limit": 5, "fault_rate": "0.5", "random_seed": None})
    assert (new.rate_limit, new.fault_rate, new.random_seed) == (5, 0.5, None)
    assert config.rate_limit == 0
    with pytest.raises(SettingError, match="unknown setting"):
        config.updated({"rate": 5})
    with pytest.raises(SettingError, match="rate_limit"):
        config.updated({"rate_limit": True})
    with pytest.raises(SettingError, match="fault_rate"):
        config.updated({"fault_rate": 2})
