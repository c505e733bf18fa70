"""What a running graph's nodes know of their run's job: `current_job()`, `UNKNOWN` and `RunStopped`.

A leaf module: the compiler's node wrappers record their steps through the job (executor.RunJob) without
importing the executor, which imports the compiler.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol

UNKNOWN = object()  # NodeRecorder.node_ended: the node after this one is not known here


class RunStopped(Exception):
    """The run was cancelled (or timed out) while it ran: stop before the next node, never retried."""


class NodeRecorder(Protocol):
    """What a node wrapper asks of the job running its graph."""

    row: Any  # the claimed run's columns: org_id, created_by_id, ...

    def node_started(self, node_id: str, now) -> None: ...

    def node_ended(self, node: dict, started, state: dict, status: str, output: Any, error: str | None, tokens: int, next_node: Any) -> None: ...


_current: ContextVar[NodeRecorder | None] = ContextVar("workflow_run_job", default=None)


def current_job() -> NodeRecorder:
    """The run job whose graph is running in this context (the node wrappers record through it)."""
    job = _current.get()
    if job is None:
        raise RuntimeError("A workflow node ran outside executor.run_workflow().")
    return job


@contextmanager
def running(job: NodeRecorder) -> Iterator[None]:
    """Make job the current one while its graph runs."""
    token = _current.set(job)
    try:
        yield
    finally:
        _current.reset(token)
