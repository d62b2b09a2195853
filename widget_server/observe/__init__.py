"""What the service tells its operators about itself: Prometheus metrics (``metrics.py``),
structured JSON logs with a request id (``logs.py``) and the sign-up funnel, counted per
pool, embedding site and day without personal data (``funnel.py``, ``funnel_report.py``).

Nothing here knows HTTP: ``web/shared/telemetry.py`` times requests and ``web/ops``
serves ``/metrics``; the portal and the admin API draw the funnel."""
