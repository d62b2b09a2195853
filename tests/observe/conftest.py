"""The observe tests run the usual app with a metrics token set."""

from __future__ import annotations

from dataclasses import replace

import pytest

from widget_server.settings import Settings

TOKEN = "scrape-token-for-tests"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, metrics_token=TOKEN)
