"""The sign-up funnel: a registration walk-through moves the counts, per pool, site and
step, with refusals by message id; the report is guarded like the pool (404 outside the
caller's scope); several processes add up; nothing personal is stored."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import inspect, select

from tests.conftest import PARTNER, Harness, deliver_all
from tests.web.portal_client import LEAD, OPERATOR, seed_admins, signed_in
from widget_server.models import FunnelCount
from widget_server.observe.funnel import FunnelRecorder

pytestmark = pytest.mark.usefixtures("manual_outbox")

GOOD_PASSWORD = "Blue-Harbour-Kettle-42"
EMAIL = "funnel.person@example.com"


async def walk_business(h: Harness, widget) -> None:
    """business-1 through every step, with one refused step and one wrong code."""
    w = widget("business-1")
    await w.open()
    refused = await w.post(email=EMAIL, password="short")
    assert refused.status == 422
    await w.post(email=EMAIL, password=GOOD_PASSWORD)
    await w.post(first_name="Jane", last_name="Doe", date_of_birth="1990-02-03")
    await w.post(company="ACME Corp", job_title="CTO", country="DE")
    page = await w.post(terms="on")
    assert page.state == "code"
    await deliver_all(h)
    [code] = h.codes_for(EMAIL)
    assert (await w.code("000000" if code != "000000" else "111111")).status == 422
    assert (await w.code(code)).state == "done"


def stages(report: dict) -> dict[str, int]:
    return {s["step"]: s["count"] for s in report["stages"]}


async def test_a_walk_through_moves_every_stage(harness: Harness, widget, operator) -> None:
    await (widget("business-1")).open()  # a view that goes no further
    await walk_business(harness, widget)
    response = await operator.get("/pools/business-1/funnel")
    assert response.status_code == 200, response.text
    report = response.json()
    assert stages(report) == {
        "view": 2,
        "account": 1,
        "personal": 1,
        "company": 1,
        "confirm": 1,
        "code": 1,
        "activated": 1,
    }
    by_step = {s["step"]: s for s in report["stages"]}
    assert by_step["account"]["conversion"] == 0.5 and by_step["account"]["drop_off"] == 0.5
    assert by_step["view"]["conversion"] is None
    refusals = {e["id"] for e in by_step["account"]["errors"]}
    assert refusals and all(i.startswith("password.") for i in refusals)
    assert [e["id"] for e in by_step["code"]["errors"]] == ["code.invalid"]
    assert report["sites"] == [PARTNER]
    today = harness.clock.now().date().isoformat()
    assert report["until"] == today
    [day] = [d for d in report["days"] if d["counts"]]
    assert day["day"] == today and day["counts"]["activated"] == 1
    # Limited to a site the pool was not embedded by: nothing.
    other = await operator.get("/pools/business-1/funnel", params={"site": "https://else.test"})
    assert set(stages(other.json()).values()) == {0}


async def test_days_are_counted_apart_and_ranges_checked(harness: Harness, widget, operator):
    await widget("partner-1").open()
    harness.clock.advance(86400)
    await widget("partner-1").open()
    await widget("partner-1").open()
    today = harness.clock.now().date()
    yesterday = today - timedelta(days=1)
    response = await operator.get(
        "/pools/partner-1/funnel", params={"since": str(yesterday), "until": str(yesterday)}
    )
    assert stages(response.json())["view"] == 1
    assert stages((await operator.get("/pools/partner-1/funnel")).json())["view"] == 3
    reversed_ = await operator.get(
        "/pools/partner-1/funnel", params={"since": str(today), "until": str(yesterday)}
    )
    assert reversed_.status_code == 422
    assert reversed_.json()["errors"][0]["id"] == "funnel.range_reversed"
    too_long = await operator.get(
        "/pools/partner-1/funnel", params={"since": str(today - timedelta(days=400))}
    )
    assert too_long.status_code == 422
    assert (await operator.get("/pools/partner-1/funnel", params={"since": "x"})).status_code == 400


async def test_other_pools_funnels_are_not_found(harness: Harness, make_key) -> None:
    admin = await make_key("pool_admin", pool_id="partner-1")
    assert (await admin.get("/pools/partner-1/funnel")).status_code == 200
    for pool in ("business-1", "no-such-pool"):
        response = await admin.get(f"/pools/{pool}/funnel")
        assert response.status_code == 404
        assert response.json()["errors"][0]["id"] == "admin.not_found"


async def test_the_portal_tab_draws_the_chart_and_the_table(harness: Harness, widget) -> None:
    await seed_admins(harness)
    await walk_business(harness, widget)
    lead = await signed_in(harness, LEAD)  # pool admin of business-1
    page = await lead.get("/admin/pools/business-1/funnel")
    assert page.status_code == 200
    assert '<svg class="fun-chart" role="img"' in page.text
    assert 'id="funnel-table"' in page.text and 'data-step="activated"' in page.text
    assert "password." in page.text and "code.invalid" in page.text
    assert 'href="/admin/pools/business-1/funnel"' in page.text  # the tab
    assert (await lead.get("/admin/pools/partner-1/funnel")).status_code == 404
    bad = await lead.get("/admin/pools/business-1/funnel", params={"since": "yesterday"})
    assert bad.status_code == 422 and 'data-message-id="funnel.bad_date"' in bad.text
    operator = await signed_in(harness, OPERATOR)
    for pool in ("business-1", "partner-1"):
        assert (await operator.get(f"/admin/pools/{pool}/funnel")).status_code == 200
    only_direct = await operator.get(
        "/admin/pools/business-1/funnel", params={"site": "direct"}
    )
    assert only_direct.status_code == 200 and "No sign-ups counted" in only_direct.text
    await lead.client.aclose()
    await operator.client.aclose()


async def test_processes_add_up_and_a_failed_write_keeps_its_counts(harness: Harness) -> None:
    services = harness.web.services
    a = FunnelRecorder(services.db, harness.clock)
    b = FunnelRecorder(services.db, harness.clock)
    for recorder in (a, b, a):
        recorder.count("partner-1", PARTNER, "view")
    b.refused("partner-1", PARTNER, "account", ["form.required", "form.required", "email.x"])
    assert await a.flush() == 1 and await b.flush() == 3
    assert await a.flush() == 0
    counts = await _rows(harness)
    assert counts[("view", "reached")] == 3
    assert counts[("account", "error:form.required")] == 1  # once per submission

    class Broken:
        async def run_write(self, work):
            raise OSError("database away")

    c = FunnelRecorder(Broken(), harness.clock)  # type: ignore[arg-type]
    c.count("partner-1", PARTNER, "view")
    with pytest.raises(OSError):
        await c.flush()
    assert c.pending == 1


async def test_only_aggregates_are_stored(harness: Harness, widget) -> None:
    await walk_business(harness, widget)
    await harness.web.services.telemetry.funnel.flush()

    def columns(connection) -> set[str]:
        return {c["name"] for c in inspect(connection).get_columns("funnel_counts")}

    async with harness.web.services.db.engine.connect() as connection:
        assert await connection.run_sync(columns) == {
            "pool_id", "site", "day", "step", "counter", "count"
        }
    async with harness.web.services.db.read() as session:
        stored = list((await session.execute(select(FunnelCount))).scalars())
    assert stored
    for row in stored:
        text = " ".join(str(v) for v in (row.pool_id, row.site, row.day, row.step, row.counter))
        assert "@" not in text and "Jane" not in text and "ACME" not in text
        assert row.site in ("", PARTNER)
        assert isinstance(row.day, date)


async def _rows(h: Harness) -> dict[tuple[str, str], int]:
    async with h.web.services.db.read() as session:
        rows = (await session.execute(select(FunnelCount))).scalars()
        return {(r.step, r.counter): r.count for r in rows}
