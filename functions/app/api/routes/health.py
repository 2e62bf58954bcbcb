"""Liveness, for load balancers and smoke tests."""

from app.api.routing import APIRouter

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """The service is up."""
    return {"status": "ok"}
