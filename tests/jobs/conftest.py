"""Fixtures of the job tests: job files in the test's own folder, the background job
worker stopped (each test runs jobs itself with ``drain``, so counts never race)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.admin.keys import MakeKey
from tests.conftest import Harness
from widget_server.admin.users import create_user
from widget_server.jobs.worker import JobWorker
from widget_server.settings import Settings
from widget_server.users.inputs import NewUser

TEAM = "business-1"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return replace(settings, jobs_dir=str(tmp_path / "jobs"))


@pytest.fixture
async def jobs(harness: Harness) -> AsyncIterator[JobWorker]:
    worker: JobWorker = harness.app.state.jobs
    await worker.stop()
    yield worker


def member(email: str, **payload: Any) -> NewUser:
    """A valid user of the business-customer schema."""
    fields = {
        "first_name": "Mia",
        "last_name": "Member",
        "company": "Business One",
        "date_of_birth": "1990-05-01",
        "country": "DE",
        "terms": True,
    }
    return NewUser(email=email, payload=fields | payload)


async def add_members(h: Harness, make_key: MakeKey, *new: NewUser, pool: str = TEAM) -> list[str]:
    lead = await make_key("pool_admin", pool)
    ids = []
    for user in new:
        view = await create_user(h.web.services, lead.actor, pool, user)
        ids.append(view.id)
    return ids
