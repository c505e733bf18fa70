"""Stripe for the billing tests: localstripe (a stateful Stripe-protocol server from PyPI) behind a small
Stripe-protocol endpoint of our own that adds only what localstripe lacks.

The app's `STRIPE_API_BASE` points at `StripeStack.base_url`. That endpoint answers itself:

    POST /v1/checkout/sessions            Checkout Sessions (subscription mode), with a page to pay on
    GET  /v1/checkout/sessions/{id}
    POST /v1/billing_portal/sessions      customer portal sessions
    GET  /v1/prices, GET /v1/prices/{id}  prices (localstripe has the older Plans, with the same ids)
    POST /v1/billing/meter_events         meter events, deduplicated by `identifier` as Stripe does
    GET  /v1/events                       localstripe's events and the ones below, oldest first
    POST /v1/invoices/create_preview      the invoice a change of price would make (also the older
    GET  /v1/invoices/upcoming            `upcoming`), prorated by `proration` as Stripe does

and forwards every other request to localstripe, adding what real Stripe does there and localstripe doesn't:
`Idempotency-Key` (a POST retried with the same key gets the first answer and changes nothing), and prices
(`items[N][price]` is sent as localstripe's `items[N][plan]`; subscription items come back with a `price`).
A change of price with `proration_behavior=always_invoice` (and `proration_date`) is invoiced and paid at
once with the same lines the preview shows: localstripe credits every past invoice in full instead.

localstripe sends no event for some changes Stripe announces: an update of a subscription, a status it
moves to after a payment, a card payment that fails on renewal. This endpoint emits those itself (listed by
`/v1/events` with localstripe's): `customer.subscription.updated` after every update through it, and
`fail_next_payment` / `pay_next` emit what Stripe would.

`complete_checkout(session_id)` does what a customer paying on Stripe's page causes: a card is attached to
the customer as its default payment method and the subscription is created with the session's metadata.
`sign(payload)` makes a `Stripe-Signature` header like Stripe's for the webhook secret.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from dateutil.relativedelta import relativedelta

# localstripe with its store in memory and a Stripe-like price swap and pending-items invoice (see there).
LOCALSTRIPE_MAIN = Path(__file__).with_name("localstripe_main.py")
GOOD_CARD = "4242424242424242"
DECLINED_ON_CHARGE = "4000000000000341"  # attaches fine, every charge fails (Stripe's test card)
PRICE_KEY = re.compile(r"^(items\[\d+\])\[price\]$")
SUBSCRIPTION_PATH = re.compile(r"/v1/subscriptions/(sub_\w+)")


def _plus_interval(at: int, interval: str) -> int:
    """at plus one billing interval, the way localstripe counts its periods (calendar months and years)."""
    step = relativedelta(months=1) if interval == "month" else relativedelta(years=1)
    return int((datetime.fromtimestamp(at) + step).timestamp())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def _as_stripe(obj, base_url: str):
    """Stripe's shapes on localstripe's answers: a subscription item's plan is also its price, and an
    invoice has a number and its hosted and PDF links."""
    if isinstance(obj, dict):
        if obj.get("object") == "subscription_item" and obj.get("plan") and not obj.get("price"):
            plan = obj["plan"]
            obj["price"] = {"id": plan["id"], "object": "price", "unit_amount": plan.get("amount"), "currency": plan.get("currency"),
                            "recurring": {"interval": plan.get("interval")}, "product": plan.get("product")}
        if obj.get("object") == "invoice" and obj.get("id", "").startswith("in_"):
            obj.setdefault("number", "VTR-" + obj["id"][-8:].upper())
            obj.setdefault("hosted_invoice_url", f"{base_url}/invoice/{obj['id']}")
            obj.setdefault("invoice_pdf", f"{base_url}/invoice/{obj['id']}.pdf")
        for value in obj.values():
            _as_stripe(value, base_url)
    elif isinstance(obj, list):
        for value in obj:
            _as_stripe(value, base_url)
    return obj


class StripeStack:
    """localstripe on one loopback port and our endpoint on another; `start()`, then `stop()`."""

    def __init__(self, secret_key: str, webhook_secret: str, log_path: Path | None = None):
        self.secret_key, self.webhook_secret = secret_key, webhook_secret
        self.log_path = log_path
        self.localstripe_port, self.port = free_port(), free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.sessions: dict[str, dict] = {}
        self.portal_sessions: list[dict] = []
        self.meter_events: dict[str, dict] = {}
        self.idempotent: dict[tuple[str, str], tuple[int, bytes]] = {}
        self.requests: list[tuple[str, str]] = []
        self.emitted: list[dict] = []
        self.opened = 0  # /v1/events lists the events from here on (set by reset)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._httpd: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> StripeStack:
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115 - lives with the process
        self._proc = subprocess.Popen([sys.executable, str(LOCALSTRIPE_MAIN), "--port", str(self.localstripe_port), "--from-scratch"],
                                      stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        _wait_for(self.localstripe_port)
        stack = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802 - the name http.server dispatches to
                stack._handle(self)

            def do_POST(self):  # noqa: N802
                stack._handle(self)

            def do_DELETE(self):  # noqa: N802
                stack._handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="stripe-endpoint", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)

    def reset(self) -> None:
        """Forget this endpoint's own records, and list only the events from now on, as if each test had a Stripe
        account of its own (localstripe keeps its customers: each test makes new ones); else a reconciler
        in a late test would replay every earlier test's events."""
        with self._lock:
            self.opened = int(time.time())
            self.sessions.clear()
            self.portal_sessions.clear()
            self.meter_events.clear()
            self.requests.clear()

    # ------------------------------------------------------------------ requests

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        path = urlsplit(h.path).path
        with self._lock:
            self.requests.append((h.command, path))
        if not path.startswith("/v1/"):
            return self._page(h, path, body)
        if h.headers.get("Authorization", "") != f"Bearer {self.secret_key}":
            return self._json(h, 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided."}})
        form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        own = self._own(h.command, path, form, urlsplit(h.path).query)
        if own is not None:
            return self._json(h, *own)
        key = h.headers.get("Idempotency-Key")
        if h.command == "POST" and key:
            with self._lock:
                replay = self.idempotent.get((key, path))
            if replay is not None:
                return self._raw(h, *replay)
        changing = SUBSCRIPTION_PATH.fullmatch(path) if h.command == "POST" else None
        if changing and form.get("proration_behavior") == "always_invoice" and form.get("items[0][price]"):
            status, answer = self._change_price(changing.group(1), form)
        else:
            status, answer = self._forward(h.command, h.path, form, h.headers.get("Content-Type"))
        if h.command == "POST" and status == 200 and SUBSCRIPTION_PATH.fullmatch(path):
            self.emit("customer.subscription.updated", json.loads(answer))
        if h.command == "POST" and key and status < 500:
            with self._lock:
                self.idempotent[(key, path)] = (status, answer)
        return self._raw(h, status, answer)

    def _own(self, method: str, path: str, form: dict, query: str) -> tuple[int, dict] | None:
        """The endpoints localstripe lacks; None for the ones it has."""
        if path == "/v1/checkout/sessions" and method == "POST":
            session_id = "cs_test_" + secrets.token_hex(12)
            session = {"id": session_id, "object": "checkout.session", "mode": form.get("mode"), "customer": form.get("customer"),
                       "url": f"{self.base_url}/checkout/{session_id}", "status": "open", "success_url": form.get("success_url"),
                       "cancel_url": form.get("cancel_url"), "price": form.get("line_items[0][price]"),
                       "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
                       "subscription_metadata": {k[len("subscription_data[metadata["):-1]: v for k, v in form.items()
                                                 if k.startswith("subscription_data[metadata[")},
                       "subscription": None}
            if session["mode"] != "subscription" or not session["customer"] or not session["price"]:
                return 400, {"error": {"type": "invalid_request_error", "message": "mode=subscription, customer and a price are required"}}
            with self._lock:
                self.sessions[session_id] = session
            return 200, session
        if m := re.fullmatch(r"/v1/checkout/sessions/([\w]+)", path):
            found = self.sessions.get(m.group(1))
            return (200, found) if found else (404, {"error": {"type": "invalid_request_error", "message": "No such session"}})
        if path == "/v1/billing_portal/sessions" and method == "POST":
            session = {"id": "bps_" + secrets.token_hex(12), "object": "billing_portal.session", "customer": form.get("customer"),
                       "return_url": form.get("return_url"), "url": f"{self.base_url}/portal/{form.get('customer')}"}
            with self._lock:
                self.portal_sessions.append(session)
            return 200, session
        if path == "/v1/billing/meter_events" and method == "POST":
            identifier = form.get("identifier") or secrets.token_hex(8)
            with self._lock:
                event = self.meter_events.setdefault(identifier, {"object": "billing.meter_event", "identifier": identifier,
                                                                  "event_name": form.get("event_name"), "payload": {
                                                                      k[8:-1]: v for k, v in form.items() if k.startswith("payload[")}})
            return 200, event
        if preview := self._preview_request(method, path, form, query):
            return preview
        if path == "/v1/events" and method == "GET":
            return 200, self._events(dict(parse_qsl(query)))
        if path == "/v1/prices" or path.startswith("/v1/prices/"):
            status, answer = self._forward("GET", path.replace("/v1/prices", "/v1/plans", 1) + (f"?{query}" if query else ""), {}, None)
            data = json.loads(answer)
            for plan in data.get("data", [data]):
                if isinstance(plan, dict) and plan.get("object") == "plan":
                    plan.update(object="price", unit_amount=plan.get("amount"), recurring={"interval": plan.get("interval")})
            return status, data
        return None

    # ------------------------------------------------------------------ prorations, as Stripe computes them

    def _get_json(self, path: str) -> tuple[int, dict]:
        status, answer = self._forward("GET", path, {}, None)
        return status, json.loads(answer)

    def proration(self, sub: dict, price_id: str, at: int) -> dict:
        """The invoice Stripe makes when `sub` moves to `price_id` at `at` (epoch seconds) with
        proration_behavior=always_invoice: the unused time of the old price is credited and the rest of the
        period charged at the new price, both prorated by the second over the current period; when the
        interval changes, a new period starts at `at` and the new price is charged for all of it."""
        old = sub["items"]["data"][0]["plan"]
        _status, new = self._get_json(f"/v1/plans/{price_id}")
        start, end = sub["current_period_start"], sub["current_period_end"]
        at = min(max(at, start), end)
        share = (end - at) / (end - start)
        lines = [{"amount": -round(old["amount"] * share), "description": f"Unused time on {old['id']}", "proration": True,
                  "period": {"start": at, "end": end}}]
        new_period = new["interval"] != old["interval"]
        if new_period:
            lines.append({"amount": new["amount"], "description": f"1 × {new['id']}", "proration": False,
                          "period": {"start": at, "end": _plus_interval(at, new["interval"])}})
        else:
            lines.append({"amount": round(new["amount"] * share), "description": f"Remaining time on {new['id']}", "proration": True,
                          "period": {"start": at, "end": end}})
        total = sum(line["amount"] for line in lines)
        return {"object": "invoice", "customer": sub["customer"], "subscription": sub["id"], "currency": new["currency"],
                "lines": {"object": "list", "data": lines}, "subtotal": total, "total": total, "amount_due": max(total, 0),
                "period_start": at, "period_end": max(line["period"]["end"] for line in lines), "new_period": new_period,
                "subscription_proration_date": at}

    def _preview_request(self, method: str, path: str, form: dict, query: str) -> tuple[int, dict] | None:
        """`POST /v1/invoices/create_preview` (subscription_details[...]) and the older `GET /v1/invoices/upcoming`
        (subscription_items[...]) for a change of price: the invoice the change would make. localstripe's own
        credits every past invoice in full and charges the whole new price, so it is not asked."""
        if path == "/v1/invoices/create_preview" and method == "POST":
            params, prefix, date_key = form, "subscription_details[items][0]", "subscription_details[proration_date]"
        elif path == "/v1/invoices/upcoming" and method == "GET":
            params, prefix, date_key = dict(parse_qsl(query)), "subscription_items[0]", "subscription_proration_date"
        else:
            return None
        price = params.get(f"{prefix}[price]") or params.get(f"{prefix}[plan]")
        if not params.get("subscription") or not price:
            return 400, {"error": {"type": "invalid_request_error", "message": "a subscription and the new price are required"}}
        status, sub = self._get_json(f"/v1/subscriptions/{params['subscription']}")
        if status != 200:
            return status, sub
        invoice = self.proration(sub, price, int(params.get(date_key) or time.time()))
        return 200, {**invoice, "id": "upcoming_in_" + secrets.token_hex(8), "status": "draft", "created": int(time.time())}

    def _change_price(self, subscription_id: str, form: dict) -> tuple[int, bytes]:
        """A change of price invoiced at once (proration_behavior=always_invoice), charged as `proration`
        computes it: localstripe swaps the price, then the proration lines are invoiced and paid."""
        status, sub = self._get_json(f"/v1/subscriptions/{subscription_id}")
        if status != 200:
            return status, json.dumps(sub).encode()
        at = int(form.get("proration_date") or time.time())
        invoice = self.proration(sub, form["items[0][price]"], at)
        swap = {k: v for k, v in form.items() if k not in ("proration_behavior", "proration_date")}
        swap.update(prorate="false", proration_date=str(at), **({"billing_cycle_anchor": "now"} if invoice["new_period"] else {}))
        status, answer = self._forward("POST", f"/v1/subscriptions/{subscription_id}", swap, None)
        if status != 200:
            return status, answer
        for line in invoice["lines"]["data"]:
            self._forward("POST", "/v1/invoiceitems", {
                "customer": sub["customer"], "subscription": subscription_id, "amount": str(line["amount"]), "currency": invoice["currency"],
                "description": line["description"], "proration": "true" if line["proration"] else "false",
                "period_start": str(line["period"]["start"]), "period_end": str(line["period"]["end"])}, None)
        _status, created = self._get_json_post("/v1/invoices", {"customer": sub["customer"], "subscription": subscription_id,
                                                                "pending_invoice_items_behavior": "include"})
        self._forward("POST", f"/v1/invoices/{created['id']}/pay", {}, None)
        return self._forward("GET", f"/v1/subscriptions/{subscription_id}", {}, None)

    def _get_json_post(self, path: str, form: dict) -> tuple[int, dict]:
        status, answer = self._forward("POST", path, form, None)
        return status, json.loads(answer)

    def _forward(self, method: str, target: str, form: dict, content_type: str | None) -> tuple[int, bytes]:
        if "proration_behavior" in form:  # localstripe knows only the older `prorate` flag
            form = dict(form)
            form["prorate"] = "false" if form.pop("proration_behavior") == "none" else "true"
        body = urlencode([(PRICE_KEY.sub(r"\1[plan]", k), v) for k, v in form.items()]).encode() if form else None
        conn = http.client.HTTPConnection("127.0.0.1", self.localstripe_port, timeout=30)
        headers = {"Authorization": f"Bearer {self.secret_key}"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, target, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        conn.close()
        try:
            raw = json.dumps(_as_stripe(json.loads(raw), self.base_url)).encode()
        except ValueError:
            pass
        return response.status, raw

    def emit(self, kind: str, obj: dict) -> dict:
        """An event Stripe would send and localstripe doesn't."""
        event = {"id": "evt_" + secrets.token_hex(12), "object": "event", "type": kind, "created": int(time.time()),
                 "data": {"object": obj}, "api_version": "2017-08-15", "livemode": False}
        with self._lock:
            self.emitted.append(event)
        return event

    def _events(self, query: dict) -> dict:
        """/v1/events over localstripe's and the emitted ones, oldest first, with created[gt|gte], type and paging."""
        upstream, after = [], None
        passed = {k: v for k, v in query.items() if k.startswith("created[") or k == "type"}
        while True:
            page = json.loads(self._forward("GET", "/v1/events?" + urlencode({**passed, "limit": "100", **({"starting_after": after} if after else {})}),
                                            {}, None)[1])
            upstream.extend(page["data"])
            if not page["has_more"] or not page["data"]:
                break
            after = page["data"][-1]["id"]
        with self._lock:
            mine = list(self.emitted)
        checks = {"created[gt]": lambda e, v: e["created"] > int(v), "created[gte]": lambda e, v: e["created"] >= int(v),
                  "created[lt]": lambda e, v: e["created"] < int(v), "created[lte]": lambda e, v: e["created"] <= int(v),
                  "type": lambda e, v: e["type"] == v}
        mine = [e for e in mine if all(checks[k](e, v) for k, v in passed.items() if k in checks)]
        merged = sorted((e for e in upstream + mine if e["created"] >= self.opened), key=lambda e: e["created"])
        if query.get("starting_after"):
            ids = [e["id"] for e in merged]
            merged = merged[ids.index(query["starting_after"]) + 1:] if query["starting_after"] in ids else []
        limit = int(query.get("limit") or 10)
        return {"object": "list", "url": "/v1/events", "data": merged[:limit], "has_more": len(merged) > limit}

    def _page(self, h, path: str, body: bytes) -> None:
        """The Checkout page a browser lands on: one button pays with the test card and goes back."""
        m = re.fullmatch(r"/checkout/([\w]+)(/pay)?", path)
        session = self.sessions.get(m.group(1)) if m else None
        if session is None:
            return self._raw(h, 404, b"no such page", "text/plain")
        if m.group(2) and h.command == "POST":
            self.complete_checkout(session["id"])
            h.send_response(303)
            h.send_header("Location", session["success_url"])
            h.send_header("Content-Length", "0")
            h.end_headers()
            return None
        page = (f"<!doctype html><title>Checkout</title><h1>Pay for {session['price']}</h1>"
                f"<form method=post action='/checkout/{session['id']}/pay'><button>Pay</button></form>").encode()
        return self._raw(h, 200, page, "text/html")

    def _json(self, h, status: int, payload: dict) -> None:
        self._raw(h, status, json.dumps(payload).encode())

    def _raw(self, h, status: int, body: bytes, content_type: str = "application/json") -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Request-Id", "req_" + secrets.token_hex(6))
        h.end_headers()
        h.wfile.write(body)

    # ------------------------------------------------------------------ what customers and Stripe do

    def call(self, method: str, path: str, params: dict | None = None) -> dict:
        """A Stripe API call as the test (not the app) makes it, through our endpoint."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        body = urlencode(params or {}).encode() if method == "POST" else None
        target = path if method == "POST" or not params else f"{path}?{urlencode(params)}"
        conn.request(method, target, body=body, headers={"Authorization": f"Bearer {self.secret_key}",
                                                         "Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        data = json.loads(response.read())
        conn.close()
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {data}")
        return data

    def attach_card(self, customer_id: str, number: str = GOOD_CARD) -> str:
        """A card as the customer's default payment method; its id."""
        pm = self.call("POST", "/v1/payment_methods", {"type": "card", "card[number]": number, "card[exp_month]": "12",
                                                       "card[exp_year]": "2034", "card[cvc]": "123"})
        self.call("POST", f"/v1/payment_methods/{pm['id']}/attach", {"customer": customer_id})
        self.call("POST", f"/v1/customers/{customer_id}", {"invoice_settings[default_payment_method]": pm["id"]})
        return pm["id"]

    def complete_checkout(self, session_id: str, card: str = GOOD_CARD) -> dict:
        """The customer pays on the Checkout page: card on file, subscription created; the subscription."""
        session = self.sessions[session_id]
        self.attach_card(session["customer"], card)
        params = {"customer": session["customer"], "items[0][price]": session["price"],
                  **{f"metadata[{k}]": v for k, v in session["subscription_metadata"].items()}}
        sub = self.call("POST", "/v1/subscriptions", params)
        with self._lock:
            session.update(status="complete", subscription=sub["id"])
        return sub

    def fail_next_payment(self, subscription_id: str, amount: int = 4900) -> dict:
        """A renewal whose charge is declined: the card is swapped for one that fails, and an invoice is
        paid with it (invoice.payment_failed; the subscription turns past_due). The invoice."""
        sub = self.call("GET", f"/v1/subscriptions/{subscription_id}")
        self.attach_card(sub["customer"], DECLINED_ON_CHARGE)
        invoice = self._renewal(sub, amount)
        # localstripe records the declined charge silently; Stripe tells, and moves the subscription to past_due
        self.emit("invoice.payment_failed", invoice)
        self.call("POST", f"/v1/subscriptions/{subscription_id}", {"metadata[last_payment]": "failed"})
        return invoice

    def pay_next(self, subscription_id: str, amount: int = 4900) -> dict:
        """A renewal paid with a good card (invoice.payment_succeeded; the subscription is active again)."""
        sub = self.call("GET", f"/v1/subscriptions/{subscription_id}")
        self.attach_card(sub["customer"], GOOD_CARD)
        invoice = self._renewal(sub, amount)
        self.call("POST", f"/v1/subscriptions/{subscription_id}", {"metadata[last_payment]": "paid"})  # announces the status
        return invoice

    def _renewal(self, sub: dict, amount: int) -> dict:
        self.call("POST", "/v1/invoiceitems", {"customer": sub["customer"], "amount": str(amount), "currency": "usd",
                                               "description": "Renewal"})
        invoice = self.call("POST", "/v1/invoices", {"customer": sub["customer"], "subscription": sub["id"]})
        try:
            self.call("POST", f"/v1/invoices/{invoice['id']}/pay")
        except RuntimeError:
            pass  # a declined charge answers 402, as Stripe does
        return self.call("GET", f"/v1/invoices/{invoice['id']}")

    def events(self, **params) -> list[dict]:
        """Every event so far (localstripe's and the emitted ones), oldest first, as /v1/events lists them."""
        return self.call("GET", "/v1/events", {"limit": "1000000", **params})["data"]

    def sign(self, payload: bytes, timestamp: int | None = None, secret: str | None = None) -> str:
        """A Stripe-Signature header for payload, as Stripe computes it (HMAC-SHA256 of "t.payload")."""
        t = int(time.time()) if timestamp is None else timestamp
        mac = hmac.new((secret or self.webhook_secret).encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
        return f"t={t},v1={mac}"

    def ensure_prices(self, plans) -> None:
        """The portal's prices, created with the ids plans.py names (localstripe stores them as plans)."""
        existing = {p["id"] for p in self.call("GET", "/v1/plans", {"limit": "100"})["data"]}
        for plan in plans:
            for interval, cents in plan.prices.items():
                if cents and plan.price_id(interval) not in existing:
                    self.call("POST", "/v1/plans", {"id": plan.price_id(interval), "amount": str(cents), "currency": "usd",
                                                    "interval": interval, "product[name]": f"VetrAI {plan.name}"})
