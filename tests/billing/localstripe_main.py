"""localstripe as the billing tests start it: its store kept in memory, and two Stripe behaviours it lacks
that `stripe_server.StripeStack` builds a change of plan on (the proration itself is computed there).

localstripe writes its whole store to /tmp/localstripe.pickle after every change, and reads it back at
start: two test runs would share (and race on) it, so the store stays in memory.

- `POST /v1/subscriptions/{id}` with `prorate=false` and a new price swaps the item and nothing else
  (localstripe otherwise credits every past invoice in full, and invoices a new interval at once);
  with `billing_cycle_anchor=now` the period restarts at `proration_date`, as Stripe's does when the
  billing interval changes.
- `POST /v1/invoices` with `pending_invoice_items_behavior=include` and a subscription invoices only the
  pending items (the proration lines), as Stripe's does, instead of adding the subscription's price.
"""

from __future__ import annotations

import time
import types

import localstripe.resources as r
from localstripe import server

r.Store.dump_to_disk = lambda self: None

_update = r.Subscription._update
_create_invoice = r.Invoice.__dict__["_api_create"].__func__


def _update_swapping_only(self, *args, prorate=None, billing_cycle_anchor=None, **kwargs):
    if str(prorate).lower() != "false":
        return _update(self, *args, prorate=prorate, **kwargs)
    saved = r.Invoice.__dict__["_api_list_all"], r.Subscription._create_invoice
    # localstripe's update credits the invoices it lists and invoices a new interval: neither, here.
    r.Invoice._api_list_all = classmethod(lambda cls, *a, **k: types.SimpleNamespace(_list=[]))
    r.Subscription._create_invoice = lambda sub: None
    try:
        _update(self, *args, prorate=False, **kwargs)
    finally:
        r.Invoice._api_list_all, r.Subscription._create_invoice = saved
    if billing_cycle_anchor == "now":
        self.start_date = int(kwargs.get("proration_date") or time.time())
    return None


def _invoice_pending(cls, customer=None, subscription=None, pending_invoice_items_behavior=None, **kwargs):
    if pending_invoice_items_behavior == "include" and subscription:
        return cls(customer=customer, subscription=subscription, items=[], **kwargs)
    return _create_invoice(cls, customer=customer, subscription=subscription,
                           pending_invoice_items_behavior=pending_invoice_items_behavior, **kwargs)


r.Subscription._update = _update_swapping_only
r.Invoice._api_create = classmethod(_invoice_pending)

if __name__ == "__main__":
    server.start()
