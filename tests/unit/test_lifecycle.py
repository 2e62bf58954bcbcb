"""The task lifecycle's decisions, run against a model of SQS, a DLQ, redrives and crashes.

A hypothesis state machine drives one task through every order of deliveries, duplicates,
outcomes, worker crashes, clock jumps, both redrives, a schedule firing (once or twice, and
after a cancel whose schedule deletion lost the race) or giving up after a day (its envelope
then in the DLQ) and its owner's cancels, applying
``app.tasks.lifecycle``'s answers the way the runner and the status store do. After every
step it checks what a client is promised: the effect runs at most once; a succeeded task
stays succeeded; once no message for the task is left in the task queue (and no schedule
will send one) its status reads succeeded, dead or cancelled; a status reads running only
under a live lease; another owner's message never runs; a cancelled task never runs after
the cancel is acknowledged and stays cancelled; a cancel never succeeds on a running or
finished task. Receives that no worker sees (an environment killed before it reached the
record) are part of the model, up to the reserve the queue keeps for them.
"""

from dataclasses import dataclass, replace

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from app.tasks import lifecycle
from app.tasks.lifecycle import (
    CRASHED_LAST,
    NEVER_DELIVERED,
    RECEIVE_RESERVE,
    SCHEDULER_MAX_EVENT_AGE_SECONDS,
    UNDELIVERED_AFTER_SECONDS,
    Delivery,
    Failed,
    NotStarted,
    Permanent,
    QueueAction,
    Record,
    RetryPolicy,
    Succeeded,
    TaskState,
    effective_state,
)

OWNER = "alice"
MAX_RECEIVES = 3  # the worker's attempts
QUEUE_MAX_RECEIVES = MAX_RECEIVES + RECEIVE_RESERVE  # the queue's maxReceiveCount
LEASE = 10.0  # a worker's invocation deadline (plus margin)
VISIBILITY = 60.0  # the queue's visibility timeout: more than any lease (AWS: 6x the timeout)
RETRY = RetryPolicy.for_queue(QUEUE_MAX_RECEIVES, base_seconds=1, max_seconds=8)
RUN_AT = 100.0  # a scheduled task's time
# What a cancel may end, written out here rather than taken from lifecycle.CANCELLABLE.
NOT_STARTED = (TaskState.SCHEDULED, TaskState.QUEUED, TaskState.FAILED)


@dataclass
class Message:
    receive_count: int = 0
    visible_at: float = 0.0
    lost_in_a_row: int = 0  # receives no worker saw, since the last one a worker did


OUTCOMES = st.sampled_from(["succeed", "fail", "permanent", "crash", "no_time"])


class TaskLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.record: Record | None = Record(TaskState.QUEUED, OWNER)
        self.queue: list[Message] = [Message()]
        self.dead_letters: list[Message] = []
        self.effects = 0
        self.schedule_alive = False  # a one-time schedule that will send the task
        self.schedule_gave_up = False  # the Scheduler dead-lettered the envelope instead
        self.cancel_acknowledged = False

    @initialize(scheduled=st.booleans())
    def a_task_is_accepted(self, scheduled: bool) -> None:
        """Queued now, or scheduled: its record reads scheduled and no message exists yet."""
        if scheduled:
            self.record = Record(TaskState.SCHEDULED, OWNER, run_at=RUN_AT)
            self.queue = []
            self.schedule_alive = True

    # --- SQS ------------------------------------------------------------------------------

    def _receive(self) -> Message | None:
        """SQS hands out a visible message, or first moves it to the DLQ past maxReceiveCount."""
        for message in list(self.queue):
            if message.visible_at > self.now:
                continue
            self.queue.remove(message)
            if message.receive_count >= QUEUE_MAX_RECEIVES:
                self.dead_letters.append(Message())
                continue
            message.receive_count += 1
            message.visible_at = self.now + VISIBILITY
            self.queue.append(message)
            return message
        return None

    def _act(self, message: Message, action: QueueAction, delay: int = 0) -> None:
        if action is QueueAction.DELETE:
            self.queue.remove(message)
        elif action is QueueAction.DEAD_LETTER:
            self.queue.remove(message)
            self.dead_letters.append(Message())
        else:
            message.visible_at = self.now + delay

    # --- rules ----------------------------------------------------------------------------

    @precondition(
        lambda self: any(
            m.visible_at <= self.now and m.lost_in_a_row < RECEIVE_RESERVE for m in self.queue
        )
    )
    @rule()
    def a_receive_is_lost(self) -> None:
        """The environment holding the batch dies before the worker reaches this record
        (no more than RECEIVE_RESERVE in a row: the reserve's promise)."""
        for message in self.queue:
            if message.visible_at <= self.now and message.lost_in_a_row < RECEIVE_RESERVE:
                received = self._receive()
                if received is not None:
                    received.lost_in_a_row += 1
                return

    @precondition(lambda self: any(m.visible_at <= self.now for m in self.queue))
    @rule(outcome=OUTCOMES)
    def deliver(self, outcome: str) -> None:
        message = self._receive()
        if message is None:
            return
        message.lost_in_a_row = 0
        delivery = Delivery(OWNER, message.receive_count, self.now)
        if lifecycle.exhausted(delivery, RETRY):
            # The runner reads the record first: a cancelled task's message just goes.
            if isinstance(lifecycle.on_delivery(self.record, delivery), lifecycle.Cancelled):
                self._act(message, QueueAction.DELETE)
                return
            if not lifecycle.attempts_left(self.record, RETRY):
                self._apply(message, delivery, lifecycle.Exhausted(), claimed=False)
                return
        if outcome == "no_time":
            # The batch had no time to start it: no claim, as the runner does.
            self._apply(message, delivery, NotStarted(), claimed=False)
            return
        decision = lifecycle.on_delivery(self.record, delivery)
        match decision:
            case lifecycle.Skip() | lifecycle.Cancelled():
                self._act(message, QueueAction.DELETE)
            case lifecycle.Later(seconds):
                self._act(message, QueueAction.RETRY, seconds)
            case lifecycle.DeadLetter():
                self._act(message, QueueAction.DEAD_LETTER)
            case lifecycle.Run():
                assert self.record is not None
                # TaskStatusStore.claim's condition agrees: a claimable state or a dead lease.
                assert self.record.state in lifecycle.CLAIMABLE or (
                    self.record.state is TaskState.RUNNING
                    and effective_state(self.record, self.now)[0] is not TaskState.RUNNING
                )
                self.record = replace(
                    self.record,
                    state=TaskState.RUNNING,
                    receive_count=message.receive_count,
                    max_receives=MAX_RECEIVES,
                    lease_expires_at=self.now + LEASE,
                    attempts=self.record.attempts + 1,
                )
                if outcome == "crash":
                    return  # killed mid-task: the lease and the message's visibility run out
                result: lifecycle.Outcome = Permanent("never")
                if outcome == "succeed":
                    result = Succeeded()
                elif outcome == "fail":
                    result = Failed("boom")
                if isinstance(result, Succeeded):
                    self.effects += 1
                self._apply(message, delivery, result, claimed=True)

    def _apply(
        self, message: Message, delivery: Delivery, outcome: lifecycle.Outcome, claimed: bool
    ) -> None:
        transition = lifecycle.after_run(delivery, outcome, RETRY)
        if transition.state is not None:
            assert self.record is not None
            if claimed or self._unclaimed_dead_allowed():
                self.record = replace(self.record, state=transition.state, lease_expires_at=None)
            elif lifecycle.ended_meanwhile(self.record) is not None:
                # The refused write returned the record: cancelled or succeeded, not dead.
                self._act(message, QueueAction.DELETE)
                return
        self._act(message, transition.action, transition.delay)

    def _unclaimed_dead_allowed(self) -> bool:
        """TaskStatusStore.mark_dead_unclaimed's condition: a live lease wins, and so does a
        last attempt that already reads dead."""
        assert self.record is not None
        state, _ = effective_state(self.record, self.now)
        return self.record.state in (TaskState.QUEUED, TaskState.SCHEDULED, TaskState.FAILED) or (
            self.record.state is TaskState.RUNNING
            and state is not TaskState.RUNNING
            and self.record.receive_count < self.record.max_receives
        )

    @precondition(
        lambda self: (
            self.schedule_alive and RUN_AT <= self.now < RUN_AT + SCHEDULER_MAX_EVENT_AGE_SECONDS
        )
    )
    @rule(times=st.sampled_from([1, 2]))
    def the_schedule_fires(self, times: int) -> None:
        """EventBridge Scheduler sends the envelope (at least once), then deletes itself."""
        self.queue.extend(Message(visible_at=self.now) for _ in range(times))
        self.schedule_alive = False

    @precondition(
        lambda self: self.schedule_alive and self.now >= RUN_AT + SCHEDULER_MAX_EVENT_AGE_SECONDS
    )
    @rule()
    def the_schedule_gives_up(self) -> None:
        """The queue refused every delivery for a day: the Scheduler sends the envelope to
        its DeadLetterConfig queue (the task DLQ) and deletes itself."""
        self.dead_letters.append(Message())
        self.schedule_alive = False
        self.schedule_gave_up = True

    @rule(deletes_schedule=st.booleans())
    def its_owner_cancels(self, deletes_schedule: bool) -> None:
        """DELETE /tasks/{id}: one conditional write, then the schedule's deletion (which may
        come too late: the schedule fires anyway)."""
        assert self.record is not None
        refused = lifecycle.refuses_cancel(self.record, self.now)
        # TaskStatusStore.cancel's condition, as DynamoDB evaluates it, agrees.
        store_allows = (
            self.record.state in (TaskState.QUEUED, TaskState.FAILED)
            or (
                self.record.state is TaskState.SCHEDULED
                and self.record.run_at is not None
                and self.record.run_at + UNDELIVERED_AFTER_SECONDS > self.now
            )
        ) or (
            self.record.state is TaskState.RUNNING
            and self.record.lease_expires_at is not None
            and self.record.lease_expires_at <= self.now
            and self.record.receive_count < self.record.max_receives
        )
        assert store_allows == (refused is None), (self.record, self.now)
        state, _ = effective_state(self.record, self.now)
        if refused is not None:
            # A cancel never ends a running, finished or cancelled task.
            assert refused is state
            assert state in (
                TaskState.RUNNING,
                TaskState.SUCCEEDED,
                TaskState.DEAD,
                TaskState.CANCELLED,
            )
            return
        # Only a task that has not started and will still run (as a client reads it).
        assert state in NOT_STARTED
        self.record = replace(self.record, state=TaskState.CANCELLED, lease_expires_at=None)
        self.cancel_acknowledged = True
        if deletes_schedule:
            self.schedule_alive = False

    @rule(seconds=st.sampled_from([1.0, 5.0, 11.0, 61.0, UNDELIVERED_AFTER_SECONDS]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @precondition(lambda self: bool(self.queue))
    @rule()
    def sqs_delivers_a_duplicate(self) -> None:
        self.queue.append(Message(visible_at=self.now))

    @precondition(lambda self: bool(self.dead_letters))
    @rule()
    def native_redrive(self) -> None:
        """StartMessageMoveTask: each DLQ message becomes a new one (receive count 0)."""
        self.queue.extend(Message(visible_at=self.now) for _ in self.dead_letters)
        self.dead_letters.clear()

    @precondition(lambda self: bool(self.dead_letters))
    @rule()
    def project_redrive(self) -> None:
        """app.tasks.redrive: send, delete from the DLQ, then requeue unless succeeded/held."""
        assert self.record is not None
        ended = (TaskState.SUCCEEDED, TaskState.CANCELLED)
        for _ in self.dead_letters:
            if self.record.state not in ended:
                self.queue.append(Message(visible_at=self.now))
        self.dead_letters.clear()
        state, _ = effective_state(self.record, self.now)
        if state in (TaskState.DEAD, TaskState.FAILED, TaskState.QUEUED) and (
            self.record.state not in ended
        ):
            self.record = replace(self.record, state=TaskState.QUEUED, lease_expires_at=None)

    @rule(
        owner=st.sampled_from(["mallory", OWNER]),
        exists=st.booleans(),
        receive_count=st.integers(1, 5),
    )
    def a_forged_or_orphan_message_never_runs(
        self, owner: str, exists: bool, receive_count: int
    ) -> None:
        record = self.record if exists else None
        decision = lifecycle.on_delivery(record, Delivery(owner, receive_count, self.now))
        if record is None or owner != OWNER:
            assert isinstance(decision, lifecycle.DeadLetter)

    # --- what clients are promised --------------------------------------------------------

    @invariant()
    def the_effect_runs_at_most_once_and_only_success_records_it(self) -> None:
        assert self.effects <= 1
        assert self.record is not None
        assert (self.record.state is TaskState.SUCCEEDED) == (self.effects == 1)

    @invariant()
    def a_cancelled_task_never_runs_and_stays_cancelled(self) -> None:
        assert self.record is not None
        if self.cancel_acknowledged:
            assert self.record.state is TaskState.CANCELLED
            assert self.effects == 0

    @invariant()
    def a_scheduled_task_reads_scheduled_until_its_time_then_queued_then_dead(self) -> None:
        """Queued while its schedule may still deliver it; dead (never delivered) after."""
        assert self.record is not None
        if self.record.state is TaskState.SCHEDULED:
            state, reason = effective_state(self.record, self.now)
            if self.now < RUN_AT:
                assert (state, reason) == (TaskState.SCHEDULED, None)
            elif self.now < RUN_AT + UNDELIVERED_AFTER_SECONDS:
                assert (state, reason) == (TaskState.QUEUED, None)
            else:
                assert (state, reason) == (TaskState.DEAD, NEVER_DELIVERED)

    @invariant()
    def without_a_message_in_the_queue_the_task_has_ended(self) -> None:
        assert self.record is not None
        state, reason = effective_state(self.record, self.now)
        # The Scheduler gave up within the margin before the record reads dead.
        undelivered_yet = (
            self.schedule_gave_up
            and self.record.state is TaskState.SCHEDULED
            and self.now < RUN_AT + UNDELIVERED_AFTER_SECONDS
        )
        if not self.queue and not self.schedule_alive and not undelivered_yet:
            ended = (TaskState.SUCCEEDED, TaskState.DEAD, TaskState.CANCELLED)
            assert state in ended, (state, self.record)
        if state is TaskState.RUNNING:
            assert self.record.lease_expires_at is not None
            assert self.now < self.record.lease_expires_at
        if reason is not None and state is TaskState.DEAD:
            assert reason in (CRASHED_LAST, NEVER_DELIVERED)
        if self.dead_letters and not self.queue and not self.schedule_alive and not undelivered_yet:
            assert state in (TaskState.SUCCEEDED, TaskState.DEAD, TaskState.CANCELLED)


TestTaskLifecycle = TaskLifecycle.TestCase
TestTaskLifecycle.settings = settings(max_examples=300, stateful_step_count=40, deadline=None)


def test_a_last_attempt_that_never_finished_reads_dead_once_its_lease_ends() -> None:
    # GIVEN a record claimed on the last receive, whose worker was killed
    record = Record(TaskState.RUNNING, OWNER, receive_count=3, max_receives=3, lease_expires_at=10)
    # THEN it reads running while the lease lasts, and dead with the reason after
    assert effective_state(record, 9.9) == (TaskState.RUNNING, None)
    assert effective_state(record, 10.0) == (TaskState.DEAD, CRASHED_LAST)
    # AND an earlier attempt reads as failed (the queue delivers it again)
    earlier = replace(record, receive_count=1)
    state, reason = effective_state(earlier, 10.0)
    assert state is TaskState.FAILED
    assert reason is not None
    assert "attempt 1" in reason


def test_a_held_task_is_looked_at_again_when_its_lease_ends() -> None:
    record = Record(TaskState.RUNNING, OWNER, receive_count=1, max_receives=3, lease_expires_at=50)
    assert lifecycle.on_delivery(record, Delivery(OWNER, 2, 20.0)) == lifecycle.Later(31)


def test_failures_back_off_and_the_last_one_is_dead() -> None:
    retry = RetryPolicy(max_receive_count=3, base_seconds=2, max_seconds=60)
    first = lifecycle.after_run(Delivery(OWNER, 1, 0), Failed("x"), retry)
    last = lifecycle.after_run(Delivery(OWNER, 3, 0), Failed("x"), retry)
    assert (first.state, first.action, first.delay) == (TaskState.FAILED, QueueAction.RETRY, 2)
    assert (last.state, last.action) == (TaskState.DEAD, QueueAction.DEAD_LETTER)
    untouched = lifecycle.after_run(Delivery(OWNER, 1, 0), NotStarted(), retry)
    assert (untouched.state, untouched.action, untouched.delay) == (None, QueueAction.RETRY, 0)


def test_a_scheduled_task_reads_queued_once_its_time_has_passed() -> None:
    # GIVEN a task scheduled for t=100
    record = Record(TaskState.SCHEDULED, OWNER, run_at=100.0)
    # THEN it reads scheduled before, queued from then on (until a worker claims it)
    assert effective_state(record, 99.9) == (TaskState.SCHEDULED, None)
    assert effective_state(record, 100.0)[0] is TaskState.QUEUED
    # AND its owner may cancel it either way
    assert lifecycle.refuses_cancel(record, 50.0) is None
    assert lifecycle.refuses_cancel(record, 150.0) is None


def test_a_scheduled_task_never_delivered_reads_dead_a_day_after_its_time() -> None:
    # GIVEN a task scheduled for t=100 that no delivery ever claimed
    record = Record(TaskState.SCHEDULED, OWNER, run_at=100.0)
    horizon = 100.0 + UNDELIVERED_AFTER_SECONDS
    # THEN it reads queued while the Scheduler may still be retrying (24 h, and a margin)
    assert UNDELIVERED_AFTER_SECONDS > SCHEDULER_MAX_EVENT_AGE_SECONDS
    assert effective_state(record, horizon - 0.1) == (TaskState.QUEUED, None)
    # AND dead from then on, saying its schedule never delivered it and how to requeue it
    state, reason = effective_state(record, horizon)
    assert state is TaskState.DEAD
    assert reason == NEVER_DELIVERED
    assert "never delivered" in reason
    assert "make redrive" in reason
    # AND a cancel is refused as dead, as a client reads it
    assert lifecycle.refuses_cancel(record, horizon) is TaskState.DEAD


def test_a_refused_dead_mark_on_a_cancelled_or_succeeded_task_just_drops_the_message() -> None:
    # GIVEN the record a refused mark_dead_unclaimed returned
    assert lifecycle.ended_meanwhile(Record(TaskState.CANCELLED, OWNER)) == lifecycle.Cancelled()
    assert lifecycle.ended_meanwhile(Record(TaskState.SUCCEEDED, OWNER)) == lifecycle.Skip()
    # AND anything else is dead-lettered as decided
    live = Record(TaskState.RUNNING, OWNER, lease_expires_at=10.0)
    for record in (None, live, Record(TaskState.DEAD, OWNER)):
        assert lifecycle.ended_meanwhile(record) is None


def test_a_cancel_is_refused_with_the_state_a_client_reads() -> None:
    live = Record(TaskState.RUNNING, OWNER, receive_count=1, max_receives=3, lease_expires_at=10)
    assert lifecycle.refuses_cancel(live, 5.0) is TaskState.RUNNING
    # A lease that ended before the last attempt reads failed: the queue delivers it again.
    assert lifecycle.refuses_cancel(live, 11.0) is None
    last = replace(live, receive_count=3)
    assert lifecycle.refuses_cancel(last, 11.0) is TaskState.DEAD
    for final in (TaskState.SUCCEEDED, TaskState.DEAD, TaskState.CANCELLED):
        assert lifecycle.refuses_cancel(Record(final, OWNER), 0.0) is final


def test_a_cancelled_task_is_never_run_whatever_delivers_it() -> None:
    record = Record(TaskState.CANCELLED, OWNER)
    for receive_count in (1, 2, 9):
        decision = lifecycle.on_delivery(record, Delivery(OWNER, receive_count, 0.0))
        assert decision == lifecycle.Cancelled()
    # AND another owner's message naming it is still dead-lettered, never taken as a cancel
    assert isinstance(
        lifecycle.on_delivery(record, Delivery("mallory", 1, 0.0)), lifecycle.DeadLetter
    )
