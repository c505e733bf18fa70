"""Billing: plans and entitlements, the usage ledger and quotas, Stripe checkout, portal and webhooks."""

from flask import Blueprint

bp = Blueprint("billing", __name__)
