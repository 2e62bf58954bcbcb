"""The FastAPI application: routes, middleware and the errors clients can cause."""

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from app.api.correlation import CorrelationIdMiddleware
from app.api.routes import files, health, items, notifications, tasks
from app.tasks.sender import InvalidTaskRequest, TaskSendError


def create_app() -> FastAPI:
    application = FastAPI(title="FastAPI on Lambda with background work", version="0.1.0")
    for module in (health, notifications, items, files, tasks):
        application.include_router(module.router)
    application.add_middleware(CorrelationIdMiddleware)
    application.add_exception_handler(TaskSendError, _task_not_accepted)  # type: ignore[arg-type]
    application.add_exception_handler(InvalidTaskRequest, _invalid_task)  # type: ignore[arg-type]
    return application


async def _task_not_accepted(request: Request, error: TaskSendError) -> JSONResponse:
    return JSONResponse(
        {
            "detail": (
                f"{error}. Tasks listed as accepted will run; those under may_run may run "
                "(poll their status before sending them again); send the others again."
            ),
            "accepted": error.accepted,
            "may_run": error.may_run,
        },
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "5"},
    )


async def _invalid_task(request: Request, error: InvalidTaskRequest) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


app = create_app()
