"""requirements.lock: every package, indirect ones included, pinned; made from pyproject.toml
with the extras CI installs; used by `make install` (and, in test_deployment_files.py, by
the Dockerfile); and this environment, where the tests run, is exactly what it says."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
POSTGRESQL_DRIVERS = {"psycopg", "psycopg-binary", "psycopg2", "psycopg2-binary", "pg8000", "asyncpg"}


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", line.strip())
        assert match, f"not an exact pin: {line!r}"  # no extras, ranges, URLs, paths or index lines
        pins[canonicalize_name(match[1])] = match[2]
    return pins


def makefile() -> str:
    return (ROOT / "Makefile").read_text()


def extras_installed_by_make_install() -> set[str]:
    recipe = re.search(r"^\$\(VENV\)/\.installed:.*?\n((?:\t.*\n)+)", makefile(), re.M)
    assert recipe, "no $(VENV)/.installed rule"
    extras = re.findall(r"-e '\.\[([^\]]*)\]'", recipe[1])
    assert len(extras) == 1
    return set(extras[0].split(","))


def test_every_line_of_the_lock_is_an_exact_pin():
    assert len(locked()) > len(PROJECT["dependencies"])  # indirect ones are there too


def test_the_lock_holds_every_pin_of_pyproject_at_its_version():
    wanted = [*PROJECT["dependencies"]]
    for extra in extras_installed_by_make_install():
        wanted += PROJECT["optional-dependencies"][extra]
    pins = locked()
    for text in wanted:
        requirement = Requirement(text)
        (specifier,) = requirement.specifier  # pyproject pins exactly too
        assert specifier.operator == "==", text
        name = canonicalize_name(requirement.name)
        assert pins.get(name) == specifier.version, f"{text}: lock has {pins.get(name)} (run `make lock`)"


def test_the_lock_names_the_one_postgresql_driver_of_pyproject():
    named = {canonicalize_name(Requirement(r).name) for r in PROJECT["dependencies"]} & POSTGRESQL_DRIVERS
    assert set(locked()) & POSTGRESQL_DRIVERS == named == {"psycopg2-binary"}


def test_this_environment_is_the_lock():
    drift = {}
    for name, pinned in locked().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            drift[name] = (pinned, installed)
    assert drift == {}, "installed differently from requirements.lock (run `make install`)"


def test_make_install_uses_the_lock_and_make_lock_compiles_the_same_extras():
    text = makefile()
    assert re.search(r"^LOCK := requirements\.lock$", text, re.M)
    for line in text.splitlines():
        if "pip install" in line and "-e '.[" in line and "[lock]" not in line:
            assert "-c $(LOCK)" in line, line
    compile_rule = re.search(r"^lock:.*?\n((?:\t.*\n)+)", text, re.M)
    assert compile_rule and "piptools compile" in compile_rule[1]
    assert set(re.findall(r"--extra (\w+)", compile_rule[1])) == extras_installed_by_make_install()
    assert "--output-file $(LOCK) pyproject.toml" in compile_rule[1]
