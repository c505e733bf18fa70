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
    "approved": ("#d3f9d8", "#2b8a3e"),
    "rejected": ("#ffe3e3", "#c92a2a"),
    "not_run": ("#f8f9fa", "#adb5bd"),
    "end": ("#e9ecef", "#495057"),
}
# What a state means, in words: each box's tooltip and accessible name.
STATE_WORDS = {"idle": "", "current": "current", "succeeded": "succeeded", "failed": "failed", "waiting": "waiting for approval",
               "approved": "approved", "rejected": "rejected", "not_run": "not run", "end": ""}


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
    connected: bool = True  # False: nothing leads to it from START (drawn apart, dashed, with no made-up lines)

    @property
    def words(self) -> str:
        """The node's state in words ("rejected", "not run", "not connected"); empty for a node with no state."""
        words = STATE_WORDS.get(self.state, self.state)
        return words if self.connected else ", ".join(w for w in ("not connected", words) if w)


@dataclass
class Line:
    """One real edge: a straight line to the next row, or a path around the boxes in between when it skips rows."""

    points: list[tuple[float, float]]
    label: str
    label_x: float
    label_y: float

    @property
    def svg_points(self) -> str:
        """The polyline's points attribute."""
        return " ".join(f"{x:g},{y:g}" for x, y in self.points)


def layout(definition: dict, states: dict[str, str] | None = None, current: str | None = None) -> dict:
    """Boxes and lines (with the SVG's width and height) for a definition; states colour the run's nodes.
    Nodes reached from START are layered by distance; the others stand in a column of their own, so that no
    edge seems to pass through them, and an edge that skips rows goes around the boxes between its ends."""
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
    depth["END"] = max(depth.values()) + 1
    rows: dict[int, list[str]] = {}
    for nid, d in sorted(depth.items(), key=lambda kv: kv[1]):
        rows.setdefault(d, []).append(nid)
    apart = [nid for nid in nodes if nid not in depth]  # unconnected: a column to the right, from row 1 down
    main_w = max(len(r) for r in rows.values()) * (W + GAP_X) + GAP_X
    width = main_w + (W + GAP_X if apart else 0)
    boxes: dict[str, Box] = {}
    row_of: dict[str, int] = {}

    def place(nid: str, x: int, d: int, connected: bool) -> None:
        node = nodes.get(nid)
        label = f"{nid} · {node['type']}" if node else nid
        state = "end" if nid in ("START", "END") else ("current" if nid == current else states.get(nid, "idle"))
        fill, stroke = COLORS.get(state, COLORS["idle"])
        boxes[nid] = Box(nid, label[:24], x, GAP_Y // 2 + d * (H + GAP_Y), fill, stroke, nid == current, state, connected)
        row_of[nid] = d

    for d, ids in rows.items():
        row_w = len(ids) * (W + GAP_X) - GAP_X
        x0 = (main_w - row_w) // 2
        for i, nid in enumerate(ids):
            place(nid, x0 + i * (W + GAP_X), d, True)
    for i, nid in enumerate(apart):
        place(nid, main_w, 1 + i, False)
    lines = []
    for e in edges:
        a, b = boxes.get(e["from"]), boxes.get(e["to"])
        if not (a and b):
            continue  # a dangling edge: the problems list names it; drawing it would invent a node
        x1, y1, x2, y2 = a.x + W / 2, a.y + H, b.x + W / 2, b.y
        label = e.get("when") or ""
        if row_of[b.id] == row_of[a.id] + 1:  # to the next row: only the gap between the rows is crossed
            lines.append(Line([(x1, y1), (x2, y2)], label, (x1 + x2) / 2 + 4, (y1 + y2) / 2))
            continue
        low, high = sorted((row_of[a.id], row_of[b.id]))
        between = [o for o in boxes.values() if o is not a and o is not b and low <= row_of[o.id] <= high]
        detour = max([o.x + W for o in between] + [a.x + W, b.x + W]) + GAP_X / 2
        width = max(width, int(detour + GAP_X / 2))
        below, above = y1 + GAP_Y / 2, y2 - GAP_Y / 2
        lines.append(Line([(x1, y1), (x1, below), (detour, below), (detour, above), (x2, above), (x2, y2)], label, detour + 4, (below + above) / 2))
    height = (max(row_of.values()) + 1) * (H + GAP_Y) + GAP_Y // 2
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
