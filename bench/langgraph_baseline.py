"""Plain LangGraph baseline for bench/workflows_bench.py: the same 3-node graph, its own PostgresSaver, durability "sync".

One process of the baseline: `python bench/langgraph_baseline.py <postgres url> <runs>`; with 0 runs it only creates
the saver's tables (once, before the processes start: two setups at once race on CREATE TABLE). It connects,
compiles the graph and warms up, prints "ready", waits for a line on stdin (so that every process
starts together), runs its share of invocations (a fresh thread id each, as each portal run has its own), then
prints one JSON line: {"runs", "seconds", "cpu_s"} and stays connected until stdin closes. Nothing of the
portal is imported: this is what the engine itself needs for the work the portal's runs do (three state
updates, a checkpoint after each step).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import TypedDict

from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.graph import END, START, StateGraph
from psycopg import Connection
from psycopg.rows import dict_row


class State(TypedDict, total=False):
    n: int
    a: str
    b: str
    c: str


def build(saver: PostgresSaver):
    """START -> a -> b -> c -> END, each node one state update: the bench workflow's transforms in Python."""
    graph = StateGraph(State)
    graph.add_node("a", lambda s: {"a": str(s["n"])})
    graph.add_node("b", lambda s: {"b": f"{s['a']}-b"})
    graph.add_node("c", lambda s: {"c": s["b"].upper()})
    graph.add_edge(START, "a")
    graph.add_edge("a", "b")
    graph.add_edge("b", "c")
    graph.add_edge("c", END)
    return graph.compile(checkpointer=saver)


def main() -> None:
    url, runs = sys.argv[1], int(sys.argv[2])
    with Connection.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row) as conn:
        saver = PostgresSaver(conn)
        if runs == 0:
            saver.setup()
            return
        graph = build(saver)
        prefix = f"lg-{os.getpid()}"
        for i in range(20):  # warm-up: imports, prepared paths, the saver's first queries
            graph.invoke({"n": i}, {"configurable": {"thread_id": f"{prefix}-warm-{i}"}}, durability="sync")
        print("ready", flush=True)
        sys.stdin.readline()
        cpu, start = time.process_time(), time.perf_counter()
        for i in range(runs):
            out = graph.invoke({"n": i}, {"configurable": {"thread_id": f"{prefix}-{i}"}}, durability="sync")
            assert out["c"] == f"{i}-B", out  # the work was done, not skipped
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(json.dumps({"runs": runs, "seconds": seconds, "cpu_s": cpu}), flush=True)
        sys.stdin.readline()  # connected until the bench has read its CPU figures (PostgreSQL's backend included)


if __name__ == "__main__":
    main()
