"""A full test run that would skip a test folder, or collect too few tests, fails."""

import subprocess
import sys
from pathlib import Path

import pytest

GUARD = Path(__file__).resolve().parents[1] / "collection.py"

CONFTEST = """
import pytest

from tests.collection import check_full_run


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    check_full_run(session, config, items)
"""


def make_project(root: Path, minimum: int, norecursedirs: str | None) -> None:
    """tests/unit/test_a.py (2 tests) and tests/build/test_b.py (1 test), with the guard."""
    ini = ['testpaths = ["tests"]']
    if norecursedirs is not None:
        ini.append(f"norecursedirs = {norecursedirs}")
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\n" + "\n".join(ini) + "\n")
    tests = root / "tests"
    for folder in (tests, tests / "unit", tests / "build"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text("")
    guard = GUARD.read_text().replace("RECORDED_MINIMUM = ", f"RECORDED_MINIMUM = {minimum}  # ")
    (tests / "collection.py").write_text(guard)
    (tests / "conftest.py").write_text(CONFTEST)
    (tests / "unit" / "test_a.py").write_text(
        "def test_one():\n    pass\n\ndef test_two():\n    pass\n"
    )
    (tests / "build" / "test_b.py").write_text("def test_three():\n    pass\n")


def run_pytest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_folder_pytest_skips_by_default_fails_the_full_run(tmp_path: Path) -> None:
    # GIVEN a project whose tests/build/ pytest's default norecursedirs skips
    make_project(tmp_path, minimum=1, norecursedirs=None)

    # WHEN the whole suite runs, as make test and CI run it
    done = run_pytest(tmp_path)

    # THEN the run fails and names the module that would not have run
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert "tests/build/test_b.py was not collected" in done.stdout + done.stderr


def test_the_full_run_passes_when_every_module_is_collected(tmp_path: Path) -> None:
    # GIVEN the same project, with norecursedirs named as this repository names it
    make_project(tmp_path, minimum=3, norecursedirs='[".*", "__pycache__"]')

    # WHEN the whole suite runs
    done = run_pytest(tmp_path)

    # THEN all three tests ran
    assert done.returncode == pytest.ExitCode.OK, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_fewer_tests_than_recorded_fail_the_full_run_but_not_a_chosen_subset(
    tmp_path: Path,
) -> None:
    # GIVEN a project that records more tests than it has
    make_project(tmp_path, minimum=4, norecursedirs='[".*", "__pycache__"]')

    # WHEN the whole suite runs, THEN it fails, saying so
    done = run_pytest(tmp_path)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED
    assert "3 tests collected, fewer than the 4 recorded" in done.stdout + done.stderr

    # WHEN only a chosen folder runs, THEN the guard stays out of the way
    subset = run_pytest(tmp_path, "tests/unit")
    assert subset.returncode == pytest.ExitCode.OK, subset.stdout + subset.stderr
    assert "2 passed" in subset.stdout
