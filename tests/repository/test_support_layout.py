"""The tests' own layout: conftest files hold fixtures only, and what tests share lives in
one package, tests.support, so no folder reaches into another's files."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> list[str]:
    """Every module `path` imports, deferred imports included; relative ones keep their dots."""
    modules = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            modules.append("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
    return modules


def test_what_tests_share_comes_from_the_support_package_alone():
    reaching = [
        f"{path.relative_to(TESTS)} imports {module}"
        for path in sorted(TESTS.rglob("*.py"))
        for module in imported_modules(path)
        if module.startswith(".") or (module.split(".")[0] == "tests" and not module.startswith("tests.support"))
    ]
    assert reaching == []


def is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(target, ast.Attribute) and target.attr == "fixture"


def test_conftest_files_define_fixtures_only():
    others = [
        f"{path.relative_to(TESTS)}: {node.name}"
        for path in sorted(TESTS.rglob("conftest.py"))
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.ClassDef)
        or (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and not node.name.startswith("pytest_")  # a hook
            and not any(is_fixture(decorator) for decorator in node.decorator_list)
        )
    ]
    assert others == []
