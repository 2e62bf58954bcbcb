"""The sample events in infra/events/<LogicalId>/, shared by every test that runs them."""

from pathlib import Path
from typing import Any

import pytest

EVENTS_DIR = Path(__file__).resolve().parents[1] / "infra" / "events"


def event_files(function_id: str) -> list[Path]:
    """The sample events of one function: ``infra/events/<LogicalId>/*.json``."""
    return sorted((EVENTS_DIR / function_id).glob("*.json"))


def function_event_params(function_ids: list[str]) -> list[Any]:
    """``(function_id, event_file)`` pytest params, one per sample event, named after both."""
    return [
        pytest.param(function_id, path, id=f"{function_id}/{path.stem}")
        for function_id in function_ids
        for path in event_files(function_id)
    ]
