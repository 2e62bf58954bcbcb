import threading
from concurrent.futures import Future

import pytest

from app.lambda_runtime.handoff import Handoffs


def test_handoff_reaches_the_taker_whichever_comes_first() -> None:
    # GIVEN hand-offs for two requests, one put before and one after the take starts
    handoffs = Handoffs()
    early: Future[None] = Future()
    handoffs.put("early", early)
    late: Future[None] = Future()
    threading.Timer(0.05, handoffs.put, ("late", late)).start()
    # WHEN each is taken THEN each taker gets its own request's work
    assert handoffs.take("late", timeout=5) is late
    assert handoffs.take("early", timeout=5) is early


def test_nothing_to_hand_off_is_a_none() -> None:
    handoffs = Handoffs()
    handoffs.put("health", None)
    assert handoffs.take("health", timeout=1) is None


def test_a_missing_handoff_times_out() -> None:
    with pytest.raises(TimeoutError, match="request r1"):
        Handoffs().take("r1", timeout=0.01)


def test_a_handoff_after_the_taker_gave_up_is_dropped_and_cancelled() -> None:
    handoffs = Handoffs()
    with pytest.raises(TimeoutError):
        handoffs.take("late", timeout=0.01)
    work: Future[None] = Future()
    handoffs.put("late", work)
    assert work.cancelled()
    with pytest.raises(TimeoutError):
        handoffs.take("late", timeout=0.01)


def test_the_handler_learns_whether_the_extension_received_its_invoke() -> None:
    # GIVEN hand-offs, and an extension that receives request r1's INVOKE a little later
    handoffs = Handoffs()
    threading.Timer(0.05, handoffs.mark_seen, ("r1",)).start()

    # WHEN the handler waits for each request to have been seen
    # THEN r1 was seen in time, r2 (never received) was not
    assert handoffs.wait_seen("r1", timeout=5)
    assert not handoffs.wait_seen("r2", timeout=0.05)

    # ... and once r1's hand-off is taken, it is forgotten
    handoffs.put("r1", None)
    assert handoffs.take("r1", timeout=1) is None
    assert not handoffs.wait_seen("r1", timeout=0)
