"""Every task module, imported so that the registry knows each task on both sides."""

from app.files import processing
from app.maintenance import expired_results

__all__ = ["expired_results", "processing"]
