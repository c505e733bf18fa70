"""What each node type does: a function of (node config, input, state, run context) → the keys it writes."""

from __future__ import annotations

import ipaddress
import json
import socket
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import httpx
from langgraph.types import interrupt
from sqlalchemy import func, select

from portal.extensions import db
from portal.notifications import service as notifications
from portal.orgs.models import Organization
from portal.uow import unit_of_work
from portal.workflows.definition import expression, template
from portal.workflows.models import WorkflowRun, WorkflowStep
from portal.workflows.services.settings import allowed_hosts, llm_api_key, llm_settings


class NodeRefused(Exception):
    """A node that must not run as configured (SSRF, missing settings): never retried."""


class NodeFailed(Exception):
    """A node's call failed (bad status, bad answer): retried when the node has a retry policy."""


@dataclass
class Context:
    """What a node may use besides the state: its run's ids and org, and the app config."""

    run_id: int
    org_id: int
    created_by_id: int | None
    config: dict
    tokens: int = 0

    @property
    def run(self) -> WorkflowRun:
        """The run's row, loaded only by the nodes that need more than its ids (notify)."""
        return db.session.get(WorkflowRun, self.run_id)

    @cached_property
    def org(self) -> Organization:
        """The run's organization, loaded only by the nodes that need it (llm settings, notify)."""
        return db.session.get(Organization, self.org_id)


def render(source: str, inp: dict, state: dict) -> str:
    return template(source).render(input=inp, state=state)


def transform(node: dict, inp: dict, state: dict, ctx: Context) -> dict:
    return {key: render(src, inp, state) for key, src in node["config"]["set"].items()}


def condition(node: dict, inp: dict, state: dict, ctx: Context, branches: list[str]) -> dict:
    value = expression(node["config"]["expression"])(input=inp, state=state)
    branch = str(value).lower() if isinstance(value, bool) else str(value)
    if branch not in branches:
        if "" not in branches:
            named = [b for b in branches if b]
            has = f" (its branches: {', '.join(named)})" if named else ""
            raise NodeFailed(f"The condition chose {branch!r}, and no edge leaves {node['id']} for that branch{has}. "
                             "Add an edge with that branch, or a default edge.")
        branch = ""
    return {node["id"]: branch}


APPROVAL_MESSAGE = "Approve this run?"  # what an approval node asks when its config gives no message


def approval(node: dict, inp: dict, state: dict, ctx: Context) -> dict:
    message = render(node["config"].get("message") or APPROVAL_MESSAGE, inp, state)
    decision = interrupt({"node": node["id"], "message": message})
    return {node["id"]: decision}


def notify(node: dict, inp: dict, state: dict, ctx: Context) -> dict:
    title = render(node["config"]["title"], inp, state)
    body = render(node["config"].get("body") or "", inp, state)
    recipients = [ctx.run.created_by] if ctx.created_by_id else []
    if recipients:
        # Committed as the node ends, like the run's steps (executor.RunJob): the job's session must not hold a
        # write across the run's next steps, which go through the job's own connection (SQLite: one writer).
        with unit_of_work():
            notifications.notify(ctx.org, recipients, "message", {"title": title[:300], "body": body})
    return {node["id"]: {"sent": len(recipients)}}


def check_host(url: str) -> str | None:
    """Refuse URLs that reach private, loopback, link-local or otherwise internal addresses (SSRF),
    unless a super admin allowlisted the host (name or name:port). Returns the address that was checked,
    for the request to connect to (None for an allowlisted host)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NodeRefused(f"Only http and https URLs with a host are allowed, not {url[:100]!r}.")
    host = parts.hostname.lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    allowed = allowed_hosts()
    if host in allowed or f"{host}:{port}" in allowed:
        return None
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise NodeFailed(f"Cannot resolve {host}: {exc}") from exc
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast or ip.is_unspecified:
            raise NodeRefused(f"Refused: {host} resolves to the internal address {ip} (ask a platform admin to allowlist it).")
    return infos[0][4][0].split("%")[0]


def pinned(url: str, address: str | None) -> tuple[str, dict, dict]:
    """(URL, extra headers, httpx extensions) that connect to the checked address rather than resolving the
    name again: a DNS answer that changes between the check and the connection (DNS rebinding) can't
    redirect the request inside. Host header and TLS name (SNI and certificate check) stay the URL's."""
    if address is None:
        return url, {}, {}
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    host_header = parts.netloc.rpartition("@")[2]
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    return parts._replace(netloc=netloc).geturl(), {"Host": host_header}, extensions


def idempotency_key(ctx: Context, node_id: str) -> str:
    """The `Idempotency-Key` of this call: (run, node, attempt), the same again when a resumed run repeats it.

    Steps are recorded when an attempt ends, so an attempt cut off by a dying worker has no step yet: its
    resumed call counts the same attempt (the remote side can deduplicate it), while a retry after a
    recorded failure is a new attempt with a new key.
    """
    done = db.session.scalar(select(func.count()).select_from(WorkflowStep).where(
        WorkflowStep.run_id == ctx.run_id, WorkflowStep.node_id == node_id))
    return f"{ctx.run.public_id}:{node_id}:{(done or 0) + 1}"


def http(node: dict, inp: dict, state: dict, ctx: Context) -> dict:
    cfg = node["config"]
    url = render(cfg["url"], inp, state)
    target, host_headers, extensions = pinned(url, check_host(url))
    headers = {"Idempotency-Key": idempotency_key(ctx, node["id"]),
               **{k: render(v, inp, state) for k, v in (cfg.get("headers") or {}).items()}, **host_headers}
    body = render(cfg["body"], inp, state) if cfg.get("body") else None
    try:
        with httpx.Client(timeout=cfg.get("timeout", 10), follow_redirects=False) as client:
            resp = client.request(cfg.get("method", "GET"), target, headers=headers, content=body, extensions=extensions)
    except httpx.HTTPError as exc:
        raise NodeFailed(f"{type(exc).__name__}: {exc}") from exc
    if resp.status_code >= 400:
        raise NodeFailed(f"{cfg.get('method', 'GET')} {url} answered {resp.status_code}")
    try:
        data: Any = resp.json()
    except ValueError:
        data = resp.text[:10000]
    return {cfg["output_key"]: {"status": resp.status_code, "body": data}}


def llm(node: dict, inp: dict, state: dict, ctx: Context) -> dict:
    cfg = node["config"]
    settings = llm_settings(ctx.org)
    api_key = llm_api_key(settings)
    if settings is None:
        raise NodeRefused("This organization has no LLM endpoint configured (Workflows → LLM settings).")
    url = settings.base_url.rstrip("/") + "/chat/completions"
    target, host_headers, extensions = pinned(url, check_host(url))
    messages = []
    if cfg.get("system"):
        messages.append({"role": "system", "content": render(cfg["system"], inp, state)})
    messages.append({"role": "user", "content": render(cfg["prompt"], inp, state)})
    payload = {"model": settings.model, "messages": messages, "temperature": cfg.get("temperature", 0.2)}
    headers = {**({"Authorization": f"Bearer {api_key}"} if api_key else {}), **host_headers}
    try:
        with httpx.Client(timeout=ctx.config.get("WORKFLOW_LLM_TIMEOUT", 60), follow_redirects=False) as client:
            resp = client.post(target, json=payload, headers=headers, extensions=extensions)
        resp.raise_for_status()
        answer = resp.json()
        text = answer["choices"][0]["message"]["content"]
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise NodeFailed(f"LLM call failed: {type(exc).__name__}: {exc}") from exc
    usage = answer.get("usage") or {}
    ctx.tokens += int(usage.get("total_tokens") or (usage.get("prompt_tokens") or 0) + (usage.get("completion_tokens") or 0))
    return {cfg["output_key"]: text}


EXECUTORS = {"transform": transform, "llm": llm, "http": http, "approval": approval, "notify": notify}


def truncate(value: Any, limit: int = 2000) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "…"
