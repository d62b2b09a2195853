"""The live preview's backend (branding/preview.py): unsaved tokens resolved where the theme
is used, with the stylesheet and contrast they would give, and nothing stored or bumped."""

from __future__ import annotations

import pytest

from tests.branding.conftest import DESIGNER, actor, errors_of, services, workspace_ids
from tests.conftest import Harness
from widget_server.branding import catalogue
from widget_server.branding.preview import preview_theme
from widget_server.errors import InvalidInput, NotFound


async def test_typed_tokens_preview_in_the_pool_without_reaching_it(harness: Harness) -> None:
    svc = services(harness)
    draft = (await catalogue.get_theme(svc, DESIGNER, "acme-partners")).draft
    typed = {**draft, "colors": {**draft["colors"], "primary": "#5b21b6"}}
    version = (await svc.pools.get("partner-2")).version
    shown = await preview_theme(svc, DESIGNER, "acme-partners", typed, pool_id="partner-1")
    assert shown.theme.colors.primary == "#5b21b6"
    assert "--ws-color-primary:#5b21b6" in shown.css
    assert shown.theme.logo.text == "Partner One"  # the pool's own layer still on top
    origins = {o.token: o for o in shown.origins}
    assert origins["colors.primary"].theme_id == "acme-partners"
    # partner-2 sets its own primary: the preview shows that, as the page would.
    there = await preview_theme(svc, DESIGNER, "acme-partners", typed, pool_id="partner-2")
    assert there.theme.colors.primary == "#0f766e"
    # Nothing stored, nothing live changed.
    assert (await catalogue.get_theme(svc, DESIGNER, "acme-partners")).draft == draft
    assert (await svc.pools.get("partner-2")).version == version


async def test_preview_names_the_token_that_is_wrong_and_reports_contrast(
    harness: Harness,
) -> None:
    svc = services(harness)
    with pytest.raises(InvalidInput) as wrong:
        await preview_theme(svc, DESIGNER, "default", {"colors": {"text": "red;}"}})
    assert errors_of(wrong.value) == {"colors.text": ["brand.invalid_token"]}
    pale = await preview_theme(svc, DESIGNER, "default", {"colors": {"muted": "#bbbbbb"}})
    assert [c.id for c in pale.contrast if not c.passes] == ["light.muted"]
    dark = await preview_theme(svc, DESIGNER, "dark")
    assert "@media (prefers-color-scheme:dark)" in dark.css
    assert len(dark.contrast) == 10


async def test_preview_keeps_to_the_designers_scope(harness: Harness) -> None:
    ids = await workspace_ids(harness)
    partners = actor("brand_designer", workspace_id=ids["Partners"])
    with pytest.raises(NotFound):
        await preview_theme(services(harness), partners, "acme-staff")
    with pytest.raises(NotFound):
        await preview_theme(services(harness), partners, "default", pool_id="employees")
