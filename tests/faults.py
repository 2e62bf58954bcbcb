"""AWS errors injected into real (moto-backed) boto3 clients through botocore's event hooks.

A ``before-call`` handler that returns a response short-circuits the call, past botocore's
retries: the code under test sees exactly what it would after AWS kept failing. Faults can
also land *after* the call went through (``after=True``): the request takes effect, then the
caller gets an error, like a response lost on the way back.
"""

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.exceptions import ReadTimeoutError

Predicate = Callable[[dict[str, Any]], bool]


@dataclass
class Fault:
    operation: str  # "UpdateItem", "SendMessageBatch", ...
    code: str = "ThrottlingException"
    status: int = 400
    # Fail this many matching calls (None: every one), or each with this probability.
    times: int | None = 1
    probability: float = 1.0
    when: Predicate = field(default=lambda params: True)
    # The call reaches AWS, then its response is lost (a read timeout).
    after: bool = False
    injected: int = 0


class AwsFaults:
    """Faults for one client; thread-safe, seeded so a run can be repeated."""

    def __init__(self, client: Any, seed: int = 0) -> None:
        self._client = client
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        client.meta.events.register("before-parameter-build", self._keep_params)
        client.meta.events.register("before-call", self._before)
        client.meta.events.register("after-call", self._after)

    @property
    def faults(self) -> list[Fault]:
        return list(self._faults)

    def add(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    def remove(self) -> None:
        self._client.meta.events.unregister("before-parameter-build", self._keep_params)
        self._client.meta.events.unregister("before-call", self._before)
        self._client.meta.events.unregister("after-call", self._after)

    def _pick(self, operation: str, params: dict[str, Any], after: bool) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.operation != operation or fault.after != after:
                    continue
                if fault.times is not None and fault.injected >= fault.times:
                    continue
                if not fault.when(params) or self._random.random() >= fault.probability:
                    continue
                fault.injected += 1
                return fault
        return None

    @staticmethod
    def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["api_params"] = params  # the caller's own parameters, for ``when``

    def _before(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        fault = self._pick(model.name, context.get("api_params", {}), after=False)
        if fault is None:
            return None
        response = AWSResponse("http://fault.invalid/", fault.status, HTTPHeaders(), None)
        parsed = {
            "Error": {"Code": fault.code, "Message": f"injected {fault.code}"},
            "ResponseMetadata": {"HTTPStatusCode": fault.status},
        }
        return response, parsed

    def _after(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        if self._pick(model.name, context.get("api_params", {}), after=True) is not None:
            raise ReadTimeoutError(endpoint_url="http://fault.invalid/")
