"""The baselines: a bare Flask app answering a short string, served by the same gunicorn settings.

Its throughput is what gunicorn, Flask routing and the loopback cost on this machine; the portal's
figures are read as a ratio of it (`gunicorn bench.bare_app:app`). `POST /webhooks/stripe` is the
webhook baseline of bench/billing_bench.py: the signature checked exactly as the portal checks it
(`stripe.Webhook.construct_event` on the raw body, the same tolerance, `STRIPE_WEBHOOK_SECRET`), then
answered, with nothing stored or enqueued.
"""

import os

import stripe
from flask import Flask, request

from portal.infra.payments import WEBHOOK_TOLERANCE

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "ok"


@app.post("/webhooks/stripe")
def verify_only():
    try:
        event = stripe.Webhook.construct_event(request.get_data(cache=False), request.headers.get("Stripe-Signature", ""),
                                               os.environ.get("STRIPE_WEBHOOK_SECRET", ""), tolerance=WEBHOOK_TOLERANCE)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        return {"error": str(exc)}, 400
    return {"received": True, "id": event["id"]}
