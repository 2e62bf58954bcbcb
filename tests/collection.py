"""What a full test run must collect, so that CI cannot quietly run less than it says.

pytest skips whole folders without a word (its default ``norecursedirs`` holds ``build``,
which once kept every built-artifact test out of CI). A full run (``make test``, ``.ci/run``:
no paths given) therefore fails when a test module under ``tests/`` yields no test, or when
fewer tests are collected than ``RECORDED_MINIMUM``. Raise the number with the tests you add;
lower it only when removing tests on purpose.
"""

from collections.abc import Iterable
from pathlib import Path

import pytest

RECORDED_MINIMUM = 850
TESTS_DIR = Path(__file__).resolve().parent


def modules_to_collect(root: Path = TESTS_DIR) -> list[Path]:
    """Every ``test_*.py`` under ``root``: what pytest is asked to collect."""
    return sorted(
        path.resolve() for path in root.rglob("test_*.py") if "__pycache__" not in path.parts
    )


def collection_problems(
    collected: Iterable[Path],
    count: int,
    *,
    root: Path = TESTS_DIR,
    minimum: int = RECORDED_MINIMUM,
) -> list[str]:
    """What is wrong with a full run that collected ``count`` tests from the ``collected`` files."""
    seen = {path.resolve() for path in collected}
    problems = [
        f"{path.relative_to(root.parent)} was not collected (no test from it ran): check"
        " norecursedirs, testpaths and its name"
        for path in modules_to_collect(root)
        if path not in seen
    ]
    if count < minimum:
        problems.append(
            f"{count} tests collected, fewer than the {minimum} recorded in tests/collection.py"
        )
    return problems


def check_full_run(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """End a full run (no paths given) that would miss a test module or the recorded count.

    Called from ``pytest_collection_modifyitems`` (tryfirst: before -k, -m or --deselect).
    """
    if config.args_source is not pytest.Config.ArgsSource.TESTPATHS or session.testsfailed:
        return  # a chosen subset, or collection errors that fail the run already
    problems = collection_problems((item.path for item in items), len(items))
    if problems:
        pytest.exit(
            "the test run would be incomplete:\n  " + "\n  ".join(problems),
            returncode=pytest.ExitCode.TESTS_FAILED,
        )
