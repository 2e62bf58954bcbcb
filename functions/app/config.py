"""Settings read once from the environment that template.yaml gives each function."""

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Field names match the environment variables set in template.yaml."""

    model_config = SettingsConfigDict(frozen=True)

    task_table_name: str = "tasks"
    quota_table_name: str = "quotas"
    task_queue_url: str = ""
    # Tasks due beyond SQS's 900 s delay become one-time schedules in this group, sent by
    # EventBridge Scheduler to the queue (by its ARN) as this role.
    task_queue_arn: str = ""
    schedule_group_name: str = ""
    scheduler_role_arn: str = ""
    dead_letter_queue_url: str = ""
    # The Secrets Manager secret whose value signs GET /tasks cursors (app.tasks.cursors).
    cursor_key_secret_arn: str = ""
    # Where EventBridge Scheduler puts a due task it could not deliver (a standard queue only).
    dead_letter_queue_arn: str = ""
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
    # A running task's progress reaches its status at most once per this many seconds.
    task_progress_interval_seconds: float = Field(default=5.0, ge=0)
    powertools_metrics_namespace: str = "LambdaBackground"
    # Fail closed: a function whose template forgot the variable still demands a token.
    auth_enabled: bool = True
    # Who may be emailed: the caller's own verified address, addresses of the listed
    # domains, or anyone (an explicit opt-in). With auth off, anyone.
    email_recipients: Literal["self", "domains", "anyone"] = "self"
    email_allowed_domains: Annotated[frozenset[str], NoDecode] = frozenset()
    emails_per_hour: int = Field(default=20, ge=0)
    tasks_per_hour: int = Field(default=500, ge=0)
    # Tasks due beyond 900 s are EventBridge Scheduler schedules, of which an account holds a
    # bounded number: each owner may have this many outstanding (app.tasks.schedule_slots).
    max_scheduled_tasks_per_owner: int = Field(default=1000, ge=0)
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    upload_expiry_seconds: int = Field(default=300, ge=1, le=3600)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1)
    # A custom domain's API mapping key or base path mapping ("v1" for api.example.com/v1/):
    # API Gateway passes it in the path, so it is served as the root_path. Empty: none.
    api_base_path: str = Field(default="", pattern=r"^/?([A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*)?/?$")

    @field_validator("email_allowed_domains", mode="before")
    @classmethod
    def _split_domains(cls, value: object) -> object:
        # EMAIL_ALLOWED_DOMAINS is a comma-separated list (a CommaDelimitedList parameter).
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, (list, tuple, set, frozenset)):
            return frozenset(str(d).strip().lower().rstrip(".") for d in value if str(d).strip())
        return value


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
