"""Hypothesis sends every route that takes a JSON body whatever a client could send as one.

Bodies are JSON texts built from arbitrary values, NaN, Infinity, -Infinity and numbers past a
float (1e400) included, integers of thousands of digits, strings holding lone surrogates
(``"\\ud800"``), nesting thousands deep, strings up to past the 1 MiB limit, and texts that
are not JSON at all; some take the route's own fields with wrong values. They reach the API
function as API Gateway delivers them (an HTTP API event, plain or base64). Whatever the body:

- the answer is never a 5xx;
- a 4xx is JSON with a ``detail``; a 422's items each carry ``loc`` and ``msg``;
- a 422 echoes at most 200 characters of the input over all its items (the README's promise).
"""

import base64
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.api.errors import MAX_ECHO_CHARS
from app.api.main import app
from tests.functional.stack import Stack
from tests.fuzz.conftest import fuzz_settings, generated_cases
from tests.lambda_context import FakeContext

# The routes with a JSON body, by the sample event that calls each.
EVENT_OF_ROUTE = {"POST /uploads": "create-upload", "POST /process/batch": "process-batch"}
MAX_EXAMPLES = 120
TOO_DEEP_TO_SHOW = "(too deeply nested to show)"


class LongInteger(str):
    """An integer written out in full, past what Python's int() reads (4,300 digits)."""


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.integers(min_value=1, max_value=6000).map(lambda digits: LongInteger("9" * digits)),
    st.sampled_from([1e308, -0.0, 5e-324]),
)
# Any code point, lone surrogates included: json.dumps writes those as "\udXXX" escapes.
texts = st.text(st.characters(codec=None), max_size=40)
values = st.recursive(
    st.none() | st.booleans() | numbers | texts,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(texts, children, max_size=5),
    max_leaves=20,
)
fields = st.sampled_from(["file_paths", "delay_seconds", "run_at", "filename"])
shaped = st.dictionaries(fields, values, min_size=1, max_size=4)


def as_json(value: Any) -> str:
    """JSON text as Python (and many a client) writes it: NaN and Infinity spelled out."""
    long_integers: list[str] = []

    def placeholder(item: Any) -> Any:
        if isinstance(item, LongInteger):
            long_integers.append(str(item))
            return f"<long integer {len(long_integers) - 1}>"
        if isinstance(item, dict):
            return {key: placeholder(child) for key, child in item.items()}
        if isinstance(item, list):
            return [placeholder(child) for child in item]
        return item

    text = json.dumps(placeholder(value), allow_nan=True)
    for index, digits in enumerate(long_integers):
        text = text.replace(f'"<long integer {index}>"', digits, 1)
    return text


def huge_number(digits: int) -> str:
    return "1" + "0" * digits + "e400"


deep = st.integers(min_value=1, max_value=4000).flatmap(
    lambda depth: st.sampled_from(
        ["[" * depth + "]" * depth, '{"a":' * depth + "NaN" + "}" * depth]
    )
)
huge_strings = st.one_of(
    st.integers(min_value=10_000, max_value=1_100_000), st.sampled_from([1_048_576, 2_000_000])
).map(lambda size: json.dumps({"file_paths": ["uploads/local/" + "x" * size], "filename": "x"}))
not_json = st.text(max_size=200) | st.sampled_from(["", "{", "NaN", "-Infinity", "1e400", "[1,]"])
# A batch of the caller's own upload with any timing: past the parser, the route decides.
UPLOAD = "uploads/local/fuzz.csv"
near_valid = st.fixed_dictionaries(
    {"file_paths": st.lists(st.just(UPLOAD), min_size=1, max_size=3)},
    optional={"delay_seconds": numbers, "run_at": values, "filename": values},
)
bodies = st.one_of(
    values.map(as_json),
    near_valid.map(as_json),
    shaped.map(as_json),
    deep,
    huge_strings,
    st.integers(min_value=300, max_value=5000).map(huge_number),
    not_json,
)


def send_body(event_name: str, body: str, *, as_base64: bool = False) -> dict[str, Any]:
    """The API function's answer to the sample event ``event_name`` carrying ``body``."""
    from app.api.handler import handler

    event = Stack.load_event(event_name)
    event["headers"]["content-type"] = "application/json"
    if as_base64:  # the body's bytes as API Gateway sends a binary body
        body = base64.b64encode(body.encode("utf-8", "surrogatepass")).decode()
    event["body"] = body
    event["isBase64Encoded"] = as_base64
    response: dict[str, Any] = handler(event, FakeContext())
    return response


def echoed_characters(detail: list[dict[str, Any]]) -> int:
    """How many characters of input a 422 sends back, over all its items."""
    total = 0
    for item in detail:
        shown = item.get("input")
        if shown is None or shown == TOO_DEEP_TO_SHOW:
            continue
        total += (
            len(shown) if isinstance(shown, str) else len(json.dumps(shown, ensure_ascii=False))
        )
    return total


def assert_explains(response: dict[str, Any]) -> None:
    assert response["headers"]["content-type"] == "application/json", response
    detail = json.loads(response["body"])["detail"]
    assert detail, response["body"]
    if response["statusCode"] == 422:
        assert isinstance(detail, list), response["body"]
        for item in detail:
            assert item.get("loc"), item
            assert item.get("msg"), item
        assert echoed_characters(detail) <= MAX_ECHO_CHARS, response["body"]
    else:
        assert isinstance(detail, str), response["body"]
        assert detail.strip(), response["body"]


def test_the_routes_with_a_json_body_are_all_covered() -> None:
    # GIVEN the app's operations WHEN those that take a request body are listed
    with_body = {
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    }
    # THEN each is fuzzed here
    assert with_body == set(EVENT_OF_ROUTE)


@pytest.mark.parametrize("route", sorted(EVENT_OF_ROUTE))
def test_no_json_body_is_a_server_error(fuzz_stack: Stack, route: str) -> None:
    statuses: Counter[int] = Counter()
    fuzz_stack.upload(UPLOAD, b"a,b\n")

    @fuzz_settings(MAX_EXAMPLES)
    @given(body=bodies, as_base64=st.booleans())
    def send(body: str, as_base64: bool) -> None:
        # GIVEN a body a client could send, as API Gateway delivers it
        # WHEN the API function handles it
        response = send_body(EVENT_OF_ROUTE[route], body, as_base64=as_base64)
        statuses[response["statusCode"]] += 1
        # THEN it is a success or a 4xx that explains itself, never a 5xx
        assert response["statusCode"] < 500, (body[:300], response["body"])
        if response["statusCode"] >= 400:
            assert_explains(response)

    send()
    generated_cases[f"API {route} (JSON bodies)"] = sum(statuses.values())
    print(f"{route}: statuses {dict(statuses)}")
    assert sum(statuses.values()) >= MAX_EXAMPLES
    # The bodies reach past the parser too: some are accepted or refused by the route itself.
    assert set(statuses) - {400, 413, 422}, statuses


def test_non_finite_numbers_anywhere_are_a_422_naming_the_field(fuzz_stack: Stack) -> None:
    for route, name in EVENT_OF_ROUTE.items():
        for spelled in ("NaN", "Infinity", "-Infinity", "1e400", "-1E+999"):
            # GIVEN a body whose number is not finite, in a field and nested below one
            for body, loc in (
                (f'{{"delay_seconds": {spelled}, "file_paths": []}}', ["body", "delay_seconds"]),
                (f'{{"filename": [{{"x": {spelled}}}]}}', ["body", "filename", 0, "x"]),
            ):
                # WHEN it is sent
                response = send_body(name, body)
                # THEN it is a 422 naming exactly where, echoing what was sent
                assert response["statusCode"] == 422, (route, body, response["body"])
                [item] = json.loads(response["body"])["detail"]
                assert item["loc"] == loc
                assert item["input"] == spelled
                assert "finite number" in item["msg"]


def test_long_integers_and_lone_surrogates_are_a_422_naming_the_field(fuzz_stack: Stack) -> None:
    cases = [
        ('{"delay_seconds": ' + "9" * 5000 + "}", ["body", "delay_seconds"], "at most 4300 digits"),
        ('{"file_paths": ["a", "\\ud800"]}', ["body", "file_paths", 1], "lone surrogate"),
        ('{"\\udfff": 1}', ["body", "\\udfff"], "lone surrogate"),
    ]
    for body, loc, says in cases:
        # GIVEN a body with an integer past int()'s limit, or a lone surrogate
        # WHEN it is sent THEN it is a 422 naming where, never a 400 or a 500
        response = send_body("process-batch", body)
        assert response["statusCode"] == 422, (body[:60], response["body"])
        [item] = json.loads(response["body"])["detail"]
        assert item["loc"] == loc
        assert says in item["msg"]


def test_a_refused_value_under_long_keys_echoes_at_most_200_characters(fuzz_stack: Stack) -> None:
    key = "k" * 3000
    cases = [
        f'{{"{key}": NaN}}',  # one long key
        f'{{"\\ud800{key}": 1}}',  # a long key that is itself refused
        "".join(f'{{"{index:03}{key[:100]}":' for index in range(50)) + "NaN" + "}" * 50,
        "{" + ", ".join(f'"{index}{key[:300]}": NaN' for index in range(12)) + "}",
    ]
    for body in cases:
        # GIVEN a body whose refused value sits under keys longer than the echo allows
        # WHEN it is sent
        response = send_body("process-batch", body)
        # THEN it is a 422 whose items, their loc's keys and inputs together, echo at most
        # 200 characters of the body, and whose loc still starts as the body does
        assert response["statusCode"] == 422, response["body"][:300]
        detail = json.loads(response["body"])["detail"]
        keys = [part for item in detail for part in item["loc"][1:] if isinstance(part, str)]
        keys_shown = sum(len(key) for key in keys)
        assert keys_shown + echoed_characters(detail) <= MAX_ECHO_CHARS, response["body"][:600]
        assert detail[0]["loc"][1].startswith(body[2:12]), detail[0]
