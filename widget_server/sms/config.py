"""The SMS provider the settings ask for."""

from __future__ import annotations

from pathlib import Path

from widget_server.settings import Settings
from widget_server.sms.devmailbox import DevMailboxSms
from widget_server.sms.provider import SmsProvider
from widget_server.sms.webhook import WebhookSms

PROVIDERS = ("", "webhook", "devmailbox")


def provider_from_settings(settings: Settings) -> SmsProvider | None:
    """None when no provider is configured: texts then wait in the outbox (retried with
    backoff, never dropped) until one is. A misconfigured one stops the start-up."""
    kind = settings.sms_provider
    if kind == "webhook":
        return WebhookSms(
            url=settings.sms_webhook_url,
            secret=settings.sms_webhook_secret,
            sender=settings.sms_from,
            timeout=settings.sms_webhook_timeout_seconds,
        )
    if kind == "devmailbox":
        if not settings.dev_mailbox_dir:
            raise ValueError("WIDGET_SMS_PROVIDER=devmailbox needs WIDGET_DEV_MAILBOX_DIR")
        return DevMailboxSms(Path(settings.dev_mailbox_dir))
    if kind:
        raise ValueError(f"WIDGET_SMS_PROVIDER must be one of {PROVIDERS}, not {kind!r}")
    return None
