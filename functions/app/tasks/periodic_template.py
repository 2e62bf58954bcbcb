"""``python -m app.tasks.periodic_template``: template.yaml's schedules for the declared
periodic tasks, to paste under ``Resources:`` (a test fails until the template matches)."""

import json
import sys
from collections.abc import Iterable

from app.tasks.periodic import PeriodicSchedules, PeriodicTask

SCHEDULE_TYPE = "AWS::Scheduler::Schedule"


def schedule_yaml(declared: PeriodicTask) -> str:
    """One schedule resource, indented as a template's resources are."""
    body = json.dumps(declared.input(), separators=(",", ":"), sort_keys=True)
    quoted = "'" + body.replace("'", "''") + "'"
    return f"""\
  # Periodic task {declared.key}: {declared.task} on {declared.expression} (UTC), declared
  # with @periodic in the code; `make periodic-template` prints this resource.
  {declared.logical_id}:
    Type: {SCHEDULE_TYPE}
    Properties:
      # Named, so no generated name can start with task- (the API's role may touch only those).
      Name: {declared.schedule_name}
      Description: Periodic task {declared.key} ({declared.task} version {declared.version}).
      GroupName: !Ref TaskScheduleGroup
      ScheduleExpression: {declared.expression}
      # Fired at the scheduled time exactly: the task id is built from it.
      FlexibleTimeWindow:
        Mode: "OFF"
      Target:
        Arn: !GetAtt TaskQueue.Arn
        RoleArn: !GetAtt TaskSchedulerRole.Arn
        Input: {quoted}
        SqsParameters: !If
          - FifoQueues
          - MessageGroupId: periodic-{declared.key}
          - !Ref AWS::NoValue
        # A firing refused for 24 h goes to the dead-letter queue (a standard one only).
        DeadLetterConfig: !If
          - FifoQueues
          - !Ref AWS::NoValue
          - Arn: !GetAtt DeadLetterQueue.Arn
"""


def schedules_yaml(declarations: Iterable[PeriodicTask]) -> str:
    return "\n".join(schedule_yaml(declared) for declared in declarations)


def main(schedules: PeriodicSchedules | None = None) -> int:
    if schedules is None:
        from app import catalog  # every task module, so every declaration is made
        from app.tasks.periodic import schedules as declared

        del catalog
        schedules = declared
    sys.stdout.write(schedules_yaml(schedules))
    return 0


if __name__ == "__main__":
    sys.exit(main())
