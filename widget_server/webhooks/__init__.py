"""Signed webhooks for partner developers (Standard Webhooks).

::

    a change (registration, admin edit, login, ...)
      └─ same transaction ──> webhook_events row          emit.py (only if the pool's
                                                          endpoints want the type)
    delivery worker (worker.py), in every server process:
      fan-out ──> webhook_deliveries, one per endpoint    fanout.py (filters, app/pool)
      claim due deliveries (lease), per endpoint and user in event order
      POST, signed ──> the partner's URL                  http.py, signing.py, urls.py
      record the attempt (delivery log), retry with backoff for over 24 h

Administration (endpoints, secrets, the delivery log, resend, test events) is in
``manage.py`` and ``deliveries.py``; the request bodies and their JSON Schemas in
``events.py``. The module docstrings say why each part is the way it is.
"""
