"""Billing's service modules, one concern each; portal.billing.service re-exports what callers use."""
