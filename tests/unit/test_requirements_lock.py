"""functions/requirements.txt (what `sam build` installs) must be exactly what uv.lock pins."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]
UV = ROOT / ".tools" / "uv" / "bin" / "uv"


def test_requirements_txt_is_generated_from_the_lock() -> None:
    # GIVEN the lock file WHEN its runtime dependencies are exported
    assert UV.exists(), "run scripts/bootstrap (or any make target) to install uv"
    exported = subprocess.run(
        [str(UV), "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "--quiet"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # THEN the committed requirements file says the same (else: make requirements)
    committed = (ROOT / "functions" / "requirements.txt").read_text()
    assert _pins(committed) == _pins(exported), (
        "functions/requirements.txt drifted: make requirements"
    )


def test_every_runtime_dependency_is_pinned() -> None:
    pins = _pins((ROOT / "functions" / "requirements.txt").read_text())
    assert {"fastapi", "mangum", "aws-lambda-powertools", "boto3", "pydantic"} <= {
        line.split("==")[0] for line in pins
    }
    assert all("==" in line for line in pins)


def _pins(text: str) -> list[str]:
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
