"""Definition → LangGraph StateGraph, compiled once per (app, version) with the app's checkpointer.

Each node is wrapped so that its start, end, duration, input, output and error are written as a step
of the run (through the run's job, executor.RunJob, reached as jobcontext.current_job(): one INSERT when the
node ends), and so that a cancelled or timed-out run stops before its next node.
"""

from __future__ import annotations

import operator
import threading
from datetime import datetime
from functools import partial
from typing import Annotated, Any, TypedDict

from flask import Flask, current_app, has_app_context
from langgraph.errors import GraphInterrupt
from langgraph.graph import END, START, StateGraph
from langgraph.types import RetryPolicy

from portal.models import utcnow
from portal.workflows import nodes
from portal.workflows.checkpoint import saver
from portal.workflows.definition import END as DEF_END
from portal.workflows.definition import START as DEF_START
from portal.workflows.failures import in_words as failure_words
from portal.workflows.jobcontext import UNKNOWN, RunStopped, current_job


def _merge(left: dict | None, right: dict | None) -> dict:
    return {**(left or {}), **(right or {})}


class RunState(TypedDict, total=False):
    input: dict
    state: Annotated[dict, _merge]
    tokens: Annotated[int, operator.add]


_cache: dict[tuple[int, int, datetime], Any] = {}
_lock = threading.Lock()


def compiled(version_id: int, version_created_at: datetime, definition: dict) -> Any:
    """The compiled graph of a workflow version (cached per app and version: versions never change)."""
    app = current_app._get_current_object()
    # The version's creation time is part of the key: row ids come back after a database is emptied (tests).
    key = (id(app), version_id, version_created_at)
    graph = _cache.get(key)
    if graph is None:
        graph = build(definition, app).compile(checkpointer=saver(app))
        with _lock:
            if len(_cache) > 512:
                _cache.clear()
            _cache[key] = graph
    return graph


def _end(name: str) -> str:
    return {DEF_START: START, DEF_END: END}.get(name, name)


def _retry_on(exc: Exception) -> bool:
    return not isinstance(exc, (RunStopped, nodes.NodeRefused, GraphInterrupt))


def build(definition: dict, app: Flask) -> StateGraph:
    """A StateGraph for a (validated) definition."""
    graph = StateGraph(RunState)
    edges_from: dict[str, list[dict]] = {}
    for edge in definition["edges"]:
        edges_from.setdefault(edge["from"], []).append(edge)
    for node in definition["nodes"]:
        node = {**node, "config": node.get("config") or {}}
        if node["type"] == "condition":
            branches = [e.get("when") or "" for e in edges_from.get(node["id"], [])]
            run = partial(nodes.condition, branches=branches)
        else:
            run = nodes.EXECUTORS[node["type"]]
        retry = node["config"].get("retry")
        policy = None
        if retry and retry.get("attempts", 1) > 1:
            policy = RetryPolicy(max_attempts=retry["attempts"], initial_interval=retry.get("backoff", 0.5), backoff_factor=2.0, jitter=False, retry_on=_retry_on)
        graph.add_node(node["id"], _wrap(app, node, run, _successor(node, edges_from.get(node["id"], []))), retry_policy=policy)
    for src, edges in edges_from.items():
        src_node = next((n for n in definition["nodes"] if n["id"] == src), None)
        if src_node is not None and src_node["type"] == "condition":
            path_map = {(e.get("when") or ""): _end(e["to"]) for e in edges}
            graph.add_conditional_edges(src, partial(_route, src), path_map)
        else:
            for e in edges:
                graph.add_edge(_end(src), _end(e["to"]))
    return graph


def _successor(node: dict, edges: list[dict]):
    """The function of a node's update that names the node running after it (None for END; UNKNOWN if it
    cannot tell), so that the node's end can mark it current in the same write (see RunJob.node_ended)."""

    def target(name: str) -> str | None:
        return None if name == DEF_END else name

    if node["type"] == "condition":
        path_map = {(e.get("when") or ""): e["to"] for e in edges}
        return lambda update: target(path_map[update[node["id"]]]) if update.get(node["id"]) in path_map else UNKNOWN
    if len(edges) == 1:  # validation allows one edge out of any other node (no fan-out)
        return lambda update, to=target(edges[0]["to"]): to
    return lambda update: UNKNOWN


def _route(node_id: str, state: RunState) -> str:
    return state["state"][node_id]


def _wrap(app: Flask, node: dict, run, successor):
    def run_node(state: RunState, run_id: int) -> dict:
        job = current_job()
        started = utcnow()
        job.node_started(node["id"], started)
        ctx = nodes.Context(run_id=run_id, org_id=job.row.org_id, created_by_id=job.row.created_by_id, config=app.config)
        # The step is written once, when the node ends (one INSERT with its start time, not an INSERT then an
        # UPDATE), in the same statement that names the next node current and checks for a cancel.
        try:
            update = run(node, state.get("input") or {}, state.get("state") or {}, ctx)
        except GraphInterrupt:
            job.node_ended(node, started, state, "waiting", None, None, 0, node["id"])
            raise
        except Exception as exc:
            words = failure_words(exc, node)
            if words:
                exc.in_words = words  # the run's error says it as the step does (RunJob's failure reads it)
            job.node_ended(node, started, state, "failed", None, words or f"{type(exc).__name__}: {exc}", ctx.tokens, node["id"])
            raise
        job.node_ended(node, started, state, "succeeded", update, None, ctx.tokens, successor(update))
        return {"state": update, "tokens": ctx.tokens}

    def node_fn(state: RunState, config) -> dict:
        run_id = config["configurable"]["run_id"]
        # A run's nodes run one at a time (validation allows no fan-out), in the job's thread or with its
        # context copied: the steps go through the job's one connection (current_job()).
        if has_app_context() and current_app._get_current_object() is app:
            return run_node(state, run_id)
        with app.app_context():
            return run_node(state, run_id)

    node_fn.__name__ = f"node_{node['id']}"
    return node_fn
