"""The Dockerfile and docker-compose.yml, checked as far as possible without a container
engine: the stack's shape, that every command is a real entry point of this project, that
every environment variable is one the code reads, and that every health check asks a
path the service really serves on the port it really listens on."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import fields
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from accrual_sim.settings import OPTIONS as ACCRUAL_OPTIONS
from accrual_sim.settings import load_settings as load_accrual_settings
from config import Settings, load_settings
from gophermart.runtime.cli import cli

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the virtualenv running these tests
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CONSOLE_SCRIPTS = set(PYPROJECT["project"]["scripts"])
OTHER_ENTRY_POINTS = {"celery", "gunicorn", "python"}

EXPECTED_SERVICES = {"postgres", "redis", "migrate", "web", "worker", "beat", "flower", "accrual"}
GOPHERMART_SERVICES = {"migrate", "web", "worker", "beat", "flower"}  # read config/settings.py
ONE_SHOT = {"migrate"}
GOPHERMART_ENV_NAMES = {spec.metadata["env"] for spec in fields(Settings)}
ACCRUAL_ENV_NAMES = {option.env for option in ACCRUAL_OPTIONS}


# --------------------------------------------------------------------------- helpers


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def services() -> dict[str, dict]:
    return compose()["services"]


def own_image_services() -> dict[str, dict]:
    """The services run from this project's image (built from the Dockerfile)."""
    return {name: spec for name, spec in services().items() if "build" in spec}


def argv_of(command) -> list[str]:
    return list(command) if isinstance(command, list) else shlex.split(command)


def environment_of(spec: dict) -> dict[str, str]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {str(name): str(value) for name, value in env.items()}


_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolated(value: str) -> str:
    """Compose's interpolation with nothing set on the host (required ones get a value)."""

    def substitute(match: re.Match) -> str:
        name, operator, argument = match.groups()
        if operator and operator.endswith("-"):
            return argument
        if name == "SECRET_KEY":
            return "a-secret-for-tests"
        raise AssertionError(f"${{{name}}} has no default; give it one or document it")

    return _VARIABLE.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile_commands() -> dict[str, list[str]]:
    commands = {}
    for keyword, arguments in dockerfile_instructions():
        if keyword in ("CMD", "ENTRYPOINT"):
            commands[keyword] = json.loads(arguments)  # exec form only; shell form fails here
    return commands


def all_commands() -> dict[str, list[str]]:
    """Every command line run from this project's image, by where it is written."""
    commands = {f"service {name}": argv_of(spec["command"]) for name, spec in own_image_services().items()}
    docker = dockerfile_commands()
    commands["Dockerfile CMD"] = docker.get("ENTRYPOINT", []) + docker["CMD"]
    return commands


def run_in_venv(argv: list[str], tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run with the embedded defaults (SQLite, file broker) in a scratch instance folder."""
    env = {k: v for k, v in os.environ.items() if k not in GOPHERMART_ENV_NAMES | ACCRUAL_ENV_NAMES}
    env.update(INSTANCE_DIR=str(tmp_path), LOG_FORMAT="text")
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def python_in_venv(code: str, tmp_path: Path) -> str:
    result = run_in_venv([str(BIN / "python"), "-c", code], tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", str(duration))
    assert match and any(match.groups()), f"unexpected duration {duration!r}"
    return int(match[1] or 0) * 60 + int(match[2] or 0)


# --------------------------------------------------------------------------- the stack's shape


def test_compose_has_exactly_the_services_of_the_stack():
    assert set(services()) == EXPECTED_SERVICES
    assert {name for name in own_image_services()} == EXPECTED_SERVICES - {"postgres", "redis"}
    assert services()["postgres"]["image"].startswith("postgres:15")
    assert services()["redis"]["image"].startswith("redis:7")


def test_exactly_one_beat():
    beats = [
        name
        for name, argv in all_commands().items()
        if argv[:2] == ["gophermart", "beat"] or (argv[:1] == ["celery"] and "beat" in argv)
    ]
    assert beats == ["service beat"]
    beat = services()["beat"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert beat.get("scale", 1) == 1


def test_every_service_has_a_health_check_but_the_one_shot_migration():
    for name, spec in services().items():
        if name in ONE_SHOT:
            assert "healthcheck" not in spec
            assert spec["restart"] == "no", "a one-shot that restarts runs forever"
            continue
        check = spec.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no health check"
        assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, name
        assert spec["restart"] == "unless-stopped", name


def test_start_order_waits_for_database_migrations_and_broker():
    specs = services()
    assert specs["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "beat"):
        depends = specs[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_redis_persists_the_broker_and_never_evicts():
    argv = argv_of(services()["redis"]["command"])
    pairs = set(zip(argv, argv[1:], strict=False))
    assert ("--appendonly", "yes") in pairs
    assert ("--maxmemory-policy", "noeviction") in pairs


def test_volumes_are_named_and_declared():
    declared = set(compose().get("volumes") or {})
    used = set()
    for name, spec in services().items():
        for volume in spec.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            assert not source.startswith(("/", ".", "~", "$")), f"{name}: {volume} is a bind mount"
            used.add(source)
    assert used == declared
    mounts = {
        spec_name: [str(v).split(":")[1] for v in spec.get("volumes", [])] for spec_name, spec in services().items()
    }
    assert "/var/lib/postgresql/data" in mounts["postgres"]
    assert "/data" in mounts["redis"]


def test_stop_grace_periods_cover_graceful_shutdowns():
    from gophermart.accrual.celery_app import celery_config

    hard_limit = celery_config(load_settings(argv=[], environ={}))["task_time_limit"]
    assert seconds(services()["worker"]["stop_grace_period"]) > hard_limit
    assert seconds(services()["web"]["stop_grace_period"]) >= 30  # gunicorn's request timeout


# --------------------------------------------------------------------------- commands


def test_every_command_names_a_real_entry_point():
    for where, argv in all_commands().items():
        program, args = argv[0], argv[1:]
        assert program in CONSOLE_SCRIPTS | OTHER_ENTRY_POINTS, f"{where}: {program}"
        if program == "gophermart":
            role_given = bool(args) and not args[0].startswith("-")  # as gophermart.runtime.cli.main reads them
            # A role is one of the console script's commands; none is the all-in-one run.
            assert not role_given or args[0] in cli.commands, f"{where}: unknown role {args[0]!r}"
            flags = [a for a in (args[1:] if role_given else args) if a != "--skip-migrations"]
            load_settings(flags, environ={})  # raises on a flag the CLI does not take
        elif program == "gophermart-accrual":
            load_accrual_settings(args, environ={})
        elif program == "celery":
            assert args[:2] == ["-A", "celery_worker"], f"{where}: {argv}"


def test_the_celery_app_module_exposes_a_celery_app(tmp_path):
    out = python_in_venv(
        "import celery, celery_worker; print(isinstance(celery_worker.celery, celery.Celery))",
        tmp_path,
    )
    assert out.strip() == "True"


def distinct_help_commands() -> list[list[str]]:
    helps: set[tuple[str, ...]] = set()
    for argv in all_commands().values():
        if argv[0] == "celery":
            helps.add(("celery", "-A", "celery_worker", argv[3], "--help"))
        elif argv[0] in CONSOLE_SCRIPTS:
            helps.add((argv[0], "--help"))
    return sorted(list(h) for h in helps)


def test_help_commands_cover_every_program():
    assert distinct_help_commands() == [
        ["celery", "-A", "celery_worker", "flower", "--help"],
        ["gophermart", "--help"],
        ["gophermart-accrual", "--help"],
    ]


@pytest.mark.parametrize("argv", distinct_help_commands(), ids=" ".join)
def test_each_program_starts(argv, tmp_path):
    result = run_in_venv([str(BIN / argv[0]), *argv[1:]], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


# --------------------------------------------------------------------------- environment


def test_gophermart_services_set_only_settings_the_code_reads():
    for name in GOPHERMART_SERVICES:
        env = environment_of(services()[name])
        assert env, f"{name} has no environment"
        assert set(env) <= GOPHERMART_ENV_NAMES, f"{name}: {set(env) - GOPHERMART_ENV_NAMES}"


def test_accrual_sets_only_settings_the_simulator_reads():
    env = environment_of(services()["accrual"])
    assert set(env) <= ACCRUAL_ENV_NAMES, set(env) - ACCRUAL_ENV_NAMES
    load_accrual_settings([], environ={k: interpolated(v) for k, v in env.items()})


def test_gophermart_environment_is_valid_and_points_at_the_stack():
    expected: dict[str, str] | None = None
    for name in GOPHERMART_SERVICES:
        env = environment_of(services()[name])
        expected = expected or env
        assert env == expected, f"{name} does not share the common environment"
    assert expected is not None
    resolved = {k: interpolated(v) for k, v in expected.items()}
    settings = load_settings(argv=[], environ=resolved)  # every value passes its check
    assert urlsplit(settings.database_uri).hostname == "postgres"
    assert urlsplit(settings.redis_url).hostname == "redis"
    accrual = urlsplit(settings.accrual_system_address)
    assert (accrual.hostname, accrual.port) == ("accrual", 8081)
    assert settings.bind == ("0.0.0.0", 8080)
    assert settings.log_format == "json"
    assert settings.instance_dir == "/app/instance"
    # No usable default for the signing key: compose refuses to start without one.
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", expected["SECRET_KEY"])


# --------------------------------------------------------------------------- health checks


def health_url(name: str) -> str:
    test = services()[name]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], name
    compile(test[3], f"<{name} health check>", "exec")  # the snippet is valid Python
    urls = re.findall(r"http://[^'\"]+", test[3])
    assert len(urls) == 1, name
    return urls[0]


def published_container_ports(name: str) -> set[int]:
    return {int(str(p).rsplit(":", 1)[-1]) for p in services()[name].get("ports", [])}


def test_web_health_check_asks_readiness_on_the_served_port(tmp_path):
    url = urlsplit(health_url("web"))
    assert url.path == "/readyz"
    run_address = interpolated(environment_of(services()["web"])["RUN_ADDRESS"])
    assert url.port == load_settings(argv=[], environ={"RUN_ADDRESS": run_address}).bind[1]
    assert published_container_ports("web") == {url.port}
    rules = python_in_venv(
        "from gophermart import create_app; print('\\n'.join(r.rule for r in create_app().url_map.iter_rules()))",
        tmp_path,
    ).split()
    assert url.path in rules


def test_accrual_health_check_asks_a_simulator_path_on_its_port():
    from accrual_sim.app import create_app

    url = urlsplit(health_url("accrual"))
    argv = argv_of(services()["accrual"]["command"])
    assert url.port == load_accrual_settings(argv[1:], environ={}).port
    assert published_container_ports("accrual") == {url.port}
    assert url.path in {rule.rule for rule in create_app().url_map.iter_rules()}


def test_flower_health_check_asks_flower_on_its_port():
    from flower.urls import handlers

    url = urlsplit(health_url("flower"))
    argv = argv_of(services()["flower"]["command"])
    assert f"--port={url.port}" in argv
    assert published_container_ports("flower") == {url.port}
    patterns = [h.regex.pattern if hasattr(h, "regex") else h[0] for h in handlers]
    assert any(re.fullmatch(p.rstrip("$"), url.path) for p in patterns if p != r".*")


def test_worker_and_beat_health_checks_are_valid_python():
    worker = services()["worker"]["healthcheck"]["test"]
    assert worker[:3] == ["CMD", "python", "-c"]
    compile(worker[3], "<worker health check>", "exec")
    assert "celery_worker" in worker[3] and "ping" in worker[3]
    beat = services()["beat"]["healthcheck"]["test"]
    assert beat[:3] == ["CMD", "python", "-c"]
    compile(beat[3], "<beat health check>", "exec")


def test_beat_health_check_watches_the_schedule_file_beat_writes(tmp_path):
    from gophermart.accrual.celery_app import celery_config

    schedule = celery_config(load_settings(argv=[], environ={"INSTANCE_DIR": "/app/instance"}))[
        "beat_schedule_filename"
    ]
    assert schedule == "/app/instance/celerybeat-schedule"
    code = services()["beat"]["healthcheck"]["test"][3]
    env = dict(os.environ, INSTANCE_DIR=str(tmp_path))
    check = [str(BIN / "python"), "-c", code]
    assert subprocess.run(check, env=env).returncode == 1  # no schedule written yet
    (tmp_path / "celerybeat-schedule.dat").write_bytes(b"")
    assert subprocess.run(check, env=env).returncode == 0  # freshly written
    os.utime(tmp_path / "celerybeat-schedule.dat", (0, 0))
    assert subprocess.run(check, env=env).returncode == 1  # beat stopped writing


# --------------------------------------------------------------------------- the image


def test_dockerfile_runs_servers_in_exec_form_as_a_non_root_user_on_python_311():
    instructions = dockerfile_instructions()
    bases = [arguments for keyword, arguments in instructions if keyword == "FROM"]
    assert len(bases) == 1 and bases[0].startswith("python:3.11")
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    for keyword, arguments in instructions:
        if keyword in ("CMD", "ENTRYPOINT"):
            assert isinstance(json.loads(arguments), list), f"{keyword} is not in exec form"
    assert dockerfile_commands()["CMD"] == ["gophermart", "web"]
    assert "8080" in [a for keyword, a in instructions if keyword == "EXPOSE"]


def test_dockerfile_copies_what_the_service_needs_and_installs_it_in_place():
    instructions = dockerfile_instructions()
    workdir = [a for keyword, a in instructions if keyword == "WORKDIR"][-1]
    copied = set()
    for keyword, arguments in instructions:
        if keyword == "COPY":
            *sources, _target = arguments.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such file"
                copied.add(source.rstrip("/"))
    needed = {
        "pyproject.toml",
        "README.md",
        "celery_worker.py",
        "wsgi.py",
        "gunicorn.conf.py",  # `gunicorn wsgi:app` in /app serves as `gophermart web`
        "config",
        "gophermart",
        "accrual_sim",
        "migrations",
    }
    assert needed <= copied
    # Migrations are found next to config/ (PROJECT_ROOT), so the packages must be
    # imported from the copied tree: an editable install of the working directory.
    installs = [a for keyword, a in instructions if keyword == "RUN" and "install" in a and " -e ." in a]
    assert installs and workdir == "/app"
    env = " ".join(a for keyword, a in instructions if keyword == "ENV")
    assert "INSTANCE_DIR=/app/instance" in env


def test_dockerfile_installs_the_dependencies_held_to_the_lock():
    """The image gets the versions CI tested: requirements.lock, copied in before the install
    of the dependencies, constrains it; the project's own install adds nothing unlocked."""
    instructions = dockerfile_instructions()
    copies = [i for i, (k, a) in enumerate(instructions) if k == "COPY" and "requirements.lock" in a.split()[:-1]]
    assert copies, "requirements.lock is not copied into the image"
    pip_installs = [
        (i, shlex.split(segment))
        for i, (keyword, arguments) in enumerate(instructions)
        if keyword == "RUN"
        for segment in arguments.split("&&")
        if "pip install" in segment
    ]
    dependencies = [(i, argv) for i, argv in pip_installs if "-e" not in argv]
    assert dependencies, "no RUN installs the dependencies"
    for i, argv in dependencies:
        assert i > copies[0], "the dependencies are installed before the lock is there"
        pairs = set(zip(argv, argv[1:], strict=False))
        assert pairs & {("-c", "requirements.lock"), ("--constraint", "requirements.lock")}, argv
    for _, argv in pip_installs:
        if "-e" in argv:
            assert "--no-deps" in argv, argv
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert "requirements.lock" not in ignored and "*.lock" not in ignored


def test_dockerignore_keeps_tests_and_local_state_out_but_not_the_sources():
    patterns = {
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", "instance", ".git", "tests", ".pytest_cache"} <= patterns
    assert "**/__pycache__" in patterns or "__pycache__" in patterns
    for needed in (
        "pyproject.toml",
        "README.md",
        "celery_worker.py",
        "wsgi.py",
        "gunicorn.conf.py",
        "config",
        "gophermart",
        "accrual_sim",
        "migrations",
        "*",
        "*.py",
        "*.md",
    ):
        assert needed not in patterns, f".dockerignore drops {needed}"
