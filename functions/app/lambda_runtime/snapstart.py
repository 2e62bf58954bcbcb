"""SnapStart runtime hooks, registered through ``snapshot_restore_py`` when it is importable.

AWS ships ``snapshot_restore_py`` with its Python managed runtimes (awslambdaric runs the hooks
around its ``/runtime/restore/next`` call); elsewhere, as AWS documents, the import is guarded.
"""

from collections.abc import Callable

from aws_lambda_powertools import Logger

logger = Logger(child=True)


def register(before_snapshot: Callable[[], None], after_restore: Callable[[], None]) -> bool:
    try:
        from snapshot_restore_py import (  # type: ignore[import-untyped,unused-ignore]
            register_after_restore,
            register_before_snapshot,
        )
    except ImportError:
        logger.warning("snapshot_restore_py is not importable: SnapStart hooks not registered")
        return False
    register_before_snapshot(before_snapshot)
    register_after_restore(after_restore)
    return True
