from app.tasks.runner import RetryPolicy


def test_backoff_doubles_per_receive_and_is_capped() -> None:
    policy = RetryPolicy(max_receive_count=5, base_seconds=2, max_seconds=30)
    assert [policy.delay(count) for count in range(1, 7)] == [2, 4, 8, 16, 30, 30]


def test_backoff_never_exceeds_sqs_visibility_limit() -> None:
    policy = RetryPolicy(max_receive_count=100, base_seconds=60, max_seconds=10**9)
    assert policy.delay(80) == 12 * 60 * 60


def test_last_attempt_is_the_queues_max_receive_count() -> None:
    policy = RetryPolicy(max_receive_count=3, base_seconds=1, max_seconds=10)
    assert not policy.is_last(2)
    assert policy.is_last(3)
