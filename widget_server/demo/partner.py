"""A stand-in partner website (another site than the widget) that embeds the widget with
the same snippet a partner would paste from ``embed-snippets/``."""

from __future__ import annotations

from typing import Annotated

from jinja2 import Environment
from litestar import Litestar, Response, get
from litestar.enums import MediaType
from litestar.params import QueryParameter

from widget_server.assets import asset_dir
from widget_server.demo.partner_signin import PartnerOidc, signin_handlers
from widget_server.seed import DEMO_POOLS


def snippet(widget_origin: str, pool_id: str, name: str = "script-tag.html") -> str:
    text = (asset_dir("embed-snippets") / name).read_text()
    return text.replace("{{WIDGET_ORIGIN}}", widget_origin).replace("{{POOL_ID}}", pool_id)


def create_partner_app(
    env: Environment,
    widget_origin: str,
    *,
    oidc: PartnerOidc | None = None,
    partner_origin: str = "",
) -> Litestar:
    """The partner site; with ``oidc`` (the demo app's credentials) also its sign-in pages
    and the backend that exchanges codes for verified ID tokens (``partner_signin``)."""
    pools = [{"id": p.id, "name": p.name} for p in DEMO_POOLS if p.self_registration]
    known = {p["id"] for p in pools}

    @get("/")
    async def partner_page(
        pool: Annotated[str, QueryParameter(name="pool", max_length=64)] = "business-1",
        plain: Annotated[bool, QueryParameter(name="plain")] = False,
        login: Annotated[bool, QueryParameter(name="login")] = False,
    ) -> Response[str]:
        pool_id = pool if pool in known else "business-1"
        # ?login=1 embeds the sign-in form instead (the same script tag, data-flow="login").
        name = "iframe.html" if plain else ("login.html" if login else "script-tag.html")
        text = snippet(widget_origin, pool_id, name)
        body = env.get_template("demo/partner.html").render(
            widget_origin=widget_origin, pool_id=pool_id, pools=pools, snippet=text
        )
        return Response(body, media_type=MediaType.HTML)

    signin = (
        signin_handlers(env, widget_origin, partner_origin, oidc, [p.id for p in DEMO_POOLS])
        if oidc is not None
        else []
    )
    return Litestar(route_handlers=[partner_page, *signin], openapi_config=None)
