"""HTML from the templates in ``widgets/``, with one Jinja2 environment per app.

The first step of a registration form is the same for every visitor of a pool, except
for the flow id and its CSRF token; the code step after it differs only in those and the
address the code went to. Both are rendered once per (pool, version, layout) with
placeholders and the per-request values are substituted: a fresh render of a 40-field
form costs ~0.9 ms of CPU, the code step ~0.25 ms, a substitution a few microseconds
(docs/architecture.md, "Performance decisions").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from widget_server.assets import asset_dir
from widget_server.forms import TEMPLATE_GLOBALS, FormNode, nodes_for_step, steps_of
from widget_server.messages import CATALOG, Msg
from widget_server.pools import PoolView, theme_layers_for
from widget_server.themes import Theme, css_variables, resolve_theme
from widget_server.web.shared.static import StaticFiles

HTMX_FILE = "htmx-2.0.11.min.js"
# htmx 2 does not swap 4xx/5xx by default; our error responses are forms with messages.
HTMX_CONFIG = (
    '{"responseHandling":[{"code":"204","swap":false},{"code":"[2345]..","swap":true,'
    '"error":false}],"includeIndicatorStyles":false,"allowEval":false,'
    '"selfRequestsOnly":true,"historyCacheSize":0}'
)

#: What a cached page holds where a per-request value goes; ``slot("address")``.
_SLOT = "__ws_{}__"
_SLOTS = re.compile(r"__ws_([a-z_]+?)__")


def slot(name: str) -> str:
    return _SLOT.format(name)


def make_environment(static: StaticFiles | None = None) -> Environment:
    """The templates' environment; ``static`` names the files ``asset_url`` points at."""
    static = static or StaticFiles(asset_dir("static"))
    env = Environment(
        loader=FileSystemLoader(asset_dir("widgets")),
        autoescape=select_autoescape(["html"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates ship with the release; checking their mtime on every render costs a
        # stat() per template per request.
        auto_reload=False,
    )
    env.globals.update(TEMPLATE_GLOBALS)
    env.globals["htmx_file"] = HTMX_FILE
    env.globals["htmx_config"] = HTMX_CONFIG
    env.globals["asset_url"] = static.url
    return env


class FlowIds(NamedTuple):
    """The per-flow values a registration page carries (hidden fields, parent origin)."""

    flow_id: str
    csrf_token: str
    flow_ticket: str | None
    parent_origin: str | None


class Renderer:
    def __init__(self, env: Environment) -> None:
        self.env = env
        self._themes: dict[tuple[str, int, str | None], Theme] = {}
        self._pages: dict[tuple[object, ...], tuple[str, ...]] = {}

    def theme(self, pool: PoolView, app_id: str | None = None) -> Theme:
        """The pool's theme, with the layer of ``app_id`` (the app a page signs in to) on
        top when that app has one. Cached by (pool, version, app): an app's theme
        changing bumps the version of every pool it signs in to."""
        app = theme_app(pool, app_id)
        key = (pool.id, pool.version, app)
        theme = self._themes.get(key)
        if theme is None:
            theme = self._themes[key] = resolve_theme(*theme_layers_for(pool, app))
        return theme

    def theme_css(self, pool: PoolView, app_id: str | None = None) -> str:
        return css_variables(self.theme(pool, app_id))

    def texts(self, theme: Theme) -> dict[str, Any]:
        """``t(msg)`` and ``say(id, **params)`` for templates, worded by ``theme``."""

        def say(id: str, **params: str | int | Markup) -> Markup:
            # Escape the wording, then let Markup.format escape every plain parameter:
            # only parameters built as Markup (an address in its span) stay HTML.
            return escape(theme.copy.get(id) or CATALOG[id]).format(**params)

        return {"t": lambda m: m.text(theme.copy), "say": say}

    def page(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)

    def registration(
        self,
        pool: PoolView,
        *,
        fragment: bool,
        ids: FlowIds,
        app_id: str | None = None,
        **view: Any,
    ) -> str:
        app = theme_app(pool, app_id)
        theme = self.theme(pool, app)
        return self.page(
            "flows/registration_card.html" if fragment else "flows/registration.html",
            pool=pool,
            theme=theme,
            theme_app=app,
            **self.texts(theme),
            **ids._asdict(),
            **view,
        )

    def cached_registration(
        self,
        pool: PoolView,
        *,
        page: str,
        fragment: bool,
        ids: FlowIds,
        full_page: bool,
        view: Callable[[], Mapping[str, Any]],
        app_id: str | None = None,
        **values: str,
    ) -> str:
        """A registration page that is the same for every visitor but for ``ids`` and
        ``values``, from the cache when possible. On a miss ``view`` builds the template
        variables, with ``slot(name)`` wherever a value of ``values`` goes."""
        app = theme_app(pool, app_id)
        key = (page, pool.id, pool.version, fragment, full_page, app, *(bool(v) for v in ids))
        parts = self._pages.get(key)
        if parts is None:
            placeholders = FlowIds(
                flow_id=slot("flow_id"),
                csrf_token=slot("csrf_token"),
                flow_ticket=slot("flow_ticket") if ids.flow_ticket else None,
                parent_origin=slot("parent_origin") if ids.parent_origin else None,
            )
            html = self.registration(
                pool, fragment=fragment, ids=placeholders, app_id=app, **view()
            )
            # Split once at the placeholders: text at even indexes, slot names at odd
            # ones. A request then joins the parts instead of scanning the whole page.
            parts = self._pages[key] = tuple(_SLOTS.split(html))
        known = {name: str(escape(v)) for name, v in ids._asdict().items() if v}
        known |= {name: str(escape(v)) for name, v in values.items()}
        return _fill(parts, known)

    def cached(self, key: tuple[object, ...], build: Callable[[], str], **values: str) -> str:
        """Markup that is the same for every request but ``values`` (the busy notice
        and its seconds): ``build`` renders it once per ``key``, with ``slot(name)``
        wherever a value goes; a request only joins the parts with its values."""
        parts = self._pages.get(key)
        if parts is None:
            parts = self._pages[key] = tuple(_SLOTS.split(build()))
        return _fill(parts, {name: str(escape(v)) for name, v in values.items()})


def theme_app(pool: PoolView, app_id: str | None) -> str | None:
    """``app_id`` if it adds a theme layer to ``pool``'s pages, else None: pages of an
    app without a theme of its own share the pool's theme, its cache entry and its
    stylesheet URL (and an unknown id in a URL cannot grow the cache)."""
    return app_id if app_id is not None and app_id in pool.app_theme_layers else None


def _fill(parts: tuple[str, ...], known: Mapping[str, str]) -> str:
    """``parts`` (text at even indexes, slot names at odd ones) joined with the values.
    A substituted value (an address may contain "__ws_x__") is never read as a
    placeholder; each value is HTML-escaped, as the template would have."""
    return "".join(known.get(part, slot(part)) if i % 2 else part for i, part in enumerate(parts))


def step_view(
    pool: PoolView,
    step_id: str,
    values: Mapping[str, object],
    errors: Mapping[str, Sequence[Msg]],
    password_node: FormNode | None,
    identifier: str,
) -> dict[str, Any]:
    steps = steps_of(pool.schema)
    index = next(i for i, s in enumerate(steps) if s.id == step_id)
    nodes = list(nodes_for_step(pool.schema, step_id, values, errors))
    if password_node is not None:
        position = next((i + 1 for i, n in enumerate(nodes) if n.name == identifier), len(nodes))
        nodes.insert(position, password_node)
    return {
        "state": "form",
        "steps": steps,
        "step_index": index,
        "step": steps[index],
        "nodes": nodes,
        "is_last": index == len(steps) - 1,
    }
