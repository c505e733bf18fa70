"""The layering the conventions promise, checked on the source so that a new cycle or a shortcut fails CI:
no import cycles (function-level imports included), infra and models import no service, services import
no views and speak no HTTP, org scoping lives in tenancy, jobs are referenced as functions."""

from __future__ import annotations

import ast
import re

import pytest

from tests.architecture.imports import PORTAL, ROOT, cycles, imports, modules

EDGES = imports()
MODULES = modules()


def _is_service(name: str) -> bool:
    parts = name.split(".")
    return parts[-1] == "service" or "services" in parts[:-1] or parts[-1] == "services"


def _is_view(name: str) -> bool:
    return name.split(".")[-1] in ("views", "api", "wiring", "docs") or name in ("portal.web", "portal.errors_http", "portal.security")


def _is_infra_or_model(name: str) -> bool:
    return name.startswith("portal.infra") or name.split(".")[-1] == "models"


def _source(name: str) -> str:
    return MODULES[name].read_text(encoding="utf-8")


def test_the_import_graph_has_no_cycles():
    found = cycles(EDGES)
    assert not found, "import cycles (counting imports inside functions too): " + "; ".join(" -> ".join(c) for c in found)


def test_infra_and_models_import_no_service_and_no_view():
    bad = [f"{e.source}:{e.line} imports {e.target}" for e in EDGES
           if _is_infra_or_model(e.source) and (_is_service(e.target) or _is_view(e.target))]
    assert not bad, bad


def test_infra_knows_no_domain():
    domains = {n.split(".")[1] for n in MODULES if n.count(".") >= 1 and (PORTAL / n.split(".")[1]).is_dir()} - {"infra"}
    bad = [f"{e.source}:{e.line} imports {e.target}" for e in EDGES
           if e.source.startswith("portal.infra") and e.target.split(".")[1:2] and e.target.split(".")[1] in domains]
    assert not bad, bad


def test_services_import_no_views():
    bad = [f"{e.source}:{e.line} imports {e.target}" for e in EDGES if _is_service(e.source) and _is_view(e.target)]
    assert not bad, bad


SERVICE_MODULES = sorted(n for n in MODULES if _is_service(n))


@pytest.mark.parametrize("name", SERVICE_MODULES)
def test_a_service_neither_commits_nor_aborts_nor_touches_the_session(name):
    """Services flush; the request's or job's unit of work commits. Refusals are ServiceErrors."""
    tree = ast.parse(_source(name))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("commit", "rollback"):
            bad.append(f"line {node.lineno}: .{node.func.attr}()")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "abort":
            bad.append(f"line {node.lineno}: abort()")
        if isinstance(node, ast.ImportFrom) and node.module in ("flask", "flask_login"):
            for alias in node.names:
                if alias.name in ("abort", "session", "request", "login_user", "logout_user", "make_response", "redirect"):
                    bad.append(f"line {node.lineno}: imports {node.module}.{alias.name}")
    assert not bad, f"{name}: " + ", ".join(bad)


ORG_FILTER = re.compile(r"\.org_id\s*==(?!\s*[A-Z]\w*\.)|filter_by\([^)]*\borg_id\s*=")


def test_only_tenancy_filters_rows_by_organization():
    """Queries on org tables go through tenancy.scoped()/unscoped(); joins on Model.org_id == Other.id are fine."""
    bad = []
    for name, path in MODULES.items():
        if name == "portal.tenancy":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if ORG_FILTER.search(line):
                bad.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not bad, "filter through tenancy.scoped(model, org) instead:\n" + "\n".join(bad)


def test_htmx_requests_are_recognized_in_one_place():
    """portal.web.wants_fragment() (or flask-htmx's `htmx`), never the raw header."""
    bad = [f"{n}:{i}" for n, p in MODULES.items() for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
           if re.search(r"headers\.get\(\s*['\"]HX-Request", line)]
    assert not bad, bad


def test_only_infra_imports_rq():
    bad = [f"{n}:{node.lineno}" for n in MODULES if not n.startswith("portal.infra")
           for node in ast.walk(ast.parse(_source(n)))
           if isinstance(node, ast.Import | ast.ImportFrom)
           and any((getattr(node, "module", None) or a.name).split(".")[0] == "rq" for a in node.names)]
    assert not bad, bad


def test_jobs_are_enqueued_as_functions_not_dotted_strings():
    bad = []
    for name in MODULES:
        for node in ast.walk(ast.parse(_source(name))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "enqueue" and node.args:
                if isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                    bad.append(f"{name}:{node.lineno} enqueues {node.args[0].value!r}")
    assert not bad, bad
