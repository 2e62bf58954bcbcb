"""Baseline for bench.cold_start: a bare FastAPI app with one route, in plain Mangum.

The route is written like the project's ``GET /health`` (same return annotation, so FastAPI
builds the same response field for it).
"""

from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


handler = Mangum(app)
