"""A server-drawn SVG layout of a workflow graph: layers by distance from START, edges with their branch names."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

W, H, GAP_X, GAP_Y = 150, 40, 30, 46

COLORS = {  # fill, stroke by node state on a run page
    "idle": ("#f4f6f8", "#8a94a0"),
    "current": ("#fff3bf", "#e0a800"),
    "succeeded": ("#d3f9d8", "#2b8a3e"),
    "failed": ("#ffe3e3", "#c92a2a"),
    "waiting": ("#e7f5ff", "#1971c2"),
    "rejected": ("#ffe3e3", "#c92a2a"),
    "not_run": ("#f8f9fa", "#adb5bd"),
    "end": ("#e9ecef", "#495057"),
}
# What a state means, in words: each box's tooltip and accessible name.
STATE_WORDS = {"idle": "", "current": "current", "succeeded": "succeeded", "failed": "failed", "waiting": "waiting for approval",
               "rejected": "rejected", "not_run": "not run", "end": ""}


@dataclass
class Box:
    id: str
    label: str
    x: int
    y: int
    fill: str
    stroke: str
    current: bool
    state: str = "idle"

    @property
    def words(self) -> str:
        """The node's state in words ("rejected", "not run"); empty for a node with no state."""
        return STATE_WORDS.get(self.state, self.state)


@dataclass
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str


def layout(definition: dict, states: dict[str, str] | None = None, current: str | None = None) -> dict:
    """Boxes and lines (with the SVG's width and height) for a definition; states colour the run's nodes."""
    states = states or {}
    nodes = {n["id"]: n for n in definition.get("nodes") or [] if isinstance(n, dict) and "id" in n}
    edges = [e for e in definition.get("edges") or [] if isinstance(e, dict) and "from" in e and "to" in e]
    out: dict[str, list[str]] = {}
    for e in edges:
        out.setdefault(e["from"], []).append(e["to"])
    depth = {"START": 0}
    todo = deque(["START"])
    while todo:
        cur = todo.popleft()
        for nxt in out.get(cur, []):
            if nxt not in depth and nxt != "END":
                depth[nxt] = depth[cur] + 1
                todo.append(nxt)
    last = max(depth.values(), default=0)
    for nid in nodes:  # unreachable nodes go at the bottom
        if nid not in depth:
            last += 1
            depth[nid] = last
    depth["END"] = max(depth.values()) + 1
    rows: dict[int, list[str]] = {}
    for nid, d in sorted(depth.items(), key=lambda kv: kv[1]):
        rows.setdefault(d, []).append(nid)
    width = max(len(r) for r in rows.values()) * (W + GAP_X) + GAP_X
    boxes: dict[str, Box] = {}
    for d, ids in rows.items():
        row_w = len(ids) * (W + GAP_X) - GAP_X
        x0 = (width - row_w) // 2
        for i, nid in enumerate(ids):
            node = nodes.get(nid)
            label = f"{nid} · {node['type']}" if node else nid
            state = "end" if nid in ("START", "END") else ("current" if nid == current else states.get(nid, "idle"))
            fill, stroke = COLORS.get(state, COLORS["idle"])
            boxes[nid] = Box(nid, label[:24], x0 + i * (W + GAP_X), GAP_Y // 2 + d * (H + GAP_Y), fill, stroke, nid == current, state)
    lines = []
    for e in edges:
        a, b = boxes.get(e["from"]), boxes.get(e["to"])
        if a and b:
            lines.append(Line(a.x + W / 2, a.y + H, b.x + W / 2, b.y, e.get("when") or ""))
    height = (max(depth.values()) + 1) * (H + GAP_Y) + GAP_Y // 2
    return {"boxes": list(boxes.values()), "lines": lines, "width": width, "height": height, "w": W, "h": H}


def node_states(run) -> dict[str, str]:
    """Each node's latest step status in a run; once the run is over, "not_run" for the nodes it never reached."""
    states: dict[str, str] = {}
    for step in run.steps:
        states[step.node_id] = step.status
    if run.is_final:
        for node in run.version.definition.get("nodes") or []:
            if isinstance(node, dict) and node.get("id") not in states:
                states[node.get("id")] = "not_run"
    return states
