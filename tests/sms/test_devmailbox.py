"""The dev mailbox SMS provider: texts filed beside the emails, shown on /dev/mailbox as
texts, with their code picked out like an email's."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from tests.sms.helpers import sms_harness
from widget_server.clock import ManualClock
from widget_server.mail.devsink import read_mailbox
from widget_server.mail.senders import MemorySender
from widget_server.settings import Settings
from widget_server.sms import SmsMessage, provider_from_settings
from widget_server.sms.devmailbox import DevMailboxSms


async def test_texts_are_filed_and_read_back_as_sms(tmp_path: Path) -> None:
    box = tmp_path / "mailbox"
    text = SmsMessage(id="7", to="+4915123456789", body="482913 is your Partner 3 code.")
    assert await DevMailboxSms(box).send_batch([text]) == [None]

    [entry] = read_mailbox(box)
    assert (entry.channel, entry.recipient, entry.code) == ("sms", "+4915123456789", "482913")
    assert entry.body.strip() == "482913 is your Partner 3 code."


async def test_a_phone_registration_shows_up_on_the_dev_mailbox_page(
    settings: Settings, clock: ManualClock, sender: MemorySender, tmp_path: Path
) -> None:
    settings = dataclasses.replace(
        settings, dev_mailbox_dir=str(tmp_path / "mailbox"), sms_provider="devmailbox"
    )
    provider = provider_from_settings(settings)
    assert isinstance(provider, DevMailboxSms)
    async with sms_harness(settings, clock, sender, provider) as h:
        await h.outbox.stop()
        page = await h.client.get("/embed/partner-phone/register")
        hidden = dict(
            re.findall(r'name="(flow_id|csrf_token|flow_ticket|step)" value="([^"]+)"', page.text)
        )
        await h.client.post(
            "/embed/partner-phone/register",
            data=hidden | {"phone": "0151 23456789", "password": "Blue-Harbour-Kettle-42"},
        )
        await h.outbox.deliver_due()
        mailbox = await h.client.get("/dev/mailbox")

    assert mailbox.status_code == 200
    item = re.search(r'<article class="ws-mailbox-item ws-mailbox-item--sms"[^>]*>', mailbox.text)
    assert item is not None and 'data-recipient="+4915123456789"' in item.group(0)
    assert re.search(r"data-code>\d{6}<", mailbox.text)
