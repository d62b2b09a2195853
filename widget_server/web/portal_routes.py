"""Every portal page, and the error handler they share."""

from __future__ import annotations

from litestar import Router
from litestar.types import ControllerRouterHandler

from widget_server.errors import WidgetError
from widget_server.web import portal_apps, portal_login, portal_pools, portal_tenant, portal_users
from widget_server.web.portal import error_page

HANDLERS: list[ControllerRouterHandler] = [
    portal_login.login_form,
    portal_login.login,
    portal_login.logout,
    portal_login.dashboard,
    portal_pools.new_pool_form,
    portal_pools.create_pool_submit,
    portal_pools.pool_page,
    portal_pools.update_pool_submit,
    portal_pools.schema_impact_preview,
    portal_pools.delete_pool_submit,
    portal_pools.pool_audit,
    portal_pools.tenant_audit,
    portal_users.users_page,
    portal_users.new_user_form,
    portal_users.create_user_submit,
    portal_users.user_page,
    portal_users.update_user_submit,
    portal_users.user_action,
    portal_tenant.admins_page,
    portal_tenant.create_admin_submit,
    portal_tenant.revoke_admin_submit,
    portal_tenant.schemas_page,
    portal_tenant.new_schema_form,
    portal_tenant.create_schema_submit,
    portal_tenant.schema_page,
    portal_tenant.update_schema_submit,
    portal_tenant.delete_schema_submit,
    *portal_apps.HANDLERS,
]


def portal_router() -> Router:
    # Paths in the handlers are absolute (/admin/...), so the router adds none.
    return Router(
        path="/",
        route_handlers=HANDLERS,
        include_in_schema=False,
        exception_handlers={WidgetError: error_page},
    )
