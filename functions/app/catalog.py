"""Every task module, imported so that the registry knows each task on both sides."""

from app.files import processing

__all__ = ["processing"]
