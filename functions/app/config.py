"""Settings read once from the environment that template.yaml gives each function."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Field names match the environment variables set in template.yaml."""

    model_config = SettingsConfigDict(frozen=True)

    task_table_name: str = "tasks"
    task_queue_url: str = ""
    dead_letter_queue_url: str = ""
    bucket_name: str = "uploads"
    uploads_prefix: str = "uploads/"
    results_prefix: str = "results/"
    sender_email: str = "noreply@example.com"
    # The queue's maxReceiveCount; the worker attempts a task this many times less
    # app.tasks.lifecycle.RECEIVE_RESERVE.
    max_receive_count: int = Field(default=7, ge=1)
    retry_base_seconds: int = Field(default=2, ge=0)
    retry_max_seconds: int = Field(default=300, ge=0)
    task_ttl_days: int = Field(default=14, ge=1)
    powertools_metrics_namespace: str = "LambdaBackground"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
