"""SMS delivery: the ``SmsProvider`` seam and its implementations.

Texts are queued in the outbox like emails (``channel="sms"``, written in the same
transaction as the code they carry) and the outbox worker hands due ones to the
configured provider in batches; a failed text is retried with the outbox's backoff.

- ``MemorySms``: keeps texts in a list, for tests;
- ``WebhookSms``: POSTs signed JSON to a URL the operator runs (any SMS gateway
  behind a small adapter);
- ``DevMailboxSms``: files texts in the dev mailbox beside the demo's emails.

``provider_from_settings`` picks one from ``Settings.sms_provider``.
"""

from widget_server.sms.config import provider_from_settings
from widget_server.sms.provider import MemorySms, SmsMessage, SmsProvider

__all__ = ["MemorySms", "SmsMessage", "SmsProvider", "provider_from_settings"]
