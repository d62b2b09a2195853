"""webhooks: endpoints, the event outbox, deliveries and their attempts; on PostgreSQL
the registration's completion v2, which also writes the webhook events

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

``widget_complete_registration_v2`` is v1 (migration 0005) plus two optional rows of
``webhook_events``: ``user.registered`` for the new user (written only when the user is
created, not when the address was taken) and ``user.deleted`` for an abandoned
registration whose address is given up (its user id is known only inside the function).
v1 stays for processes of the previous release that still call it during an upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("pool_id", sa.String(length=64), nullable=True),
        sa.Column("app_id", sa.String(length=64), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("fanned_out", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_events_pending", ["fanned_out", "id"], unique=False)

    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("pool_id", sa.String(length=64), nullable=True),
        sa.Column("app_id", sa.String(length=64), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("previous_secret", sa.Text(), nullable=True),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["pool_id"], ["pools.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_endpoints_app_id"), ["app_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_webhook_endpoints_pool_id"), ["pool_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_webhook_endpoints_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoints.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["event_id"], ["webhook_events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_deliveries_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            "ix_webhook_deliveries_order",
            ["endpoint_id", "user_id", "status", "id"],
            unique=False,
        )

    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("request_excerpt", sa.Text(), nullable=False),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["webhook_deliveries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhook_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_attempts_delivery_id"), ["delivery_id"], unique=False
        )
        batch_op.create_index("ix_webhook_attempts_endpoint", ["endpoint_id", "id"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS widget_complete_registration_v2(jsonb)")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
    op.drop_table("webhook_events")


FUNCTION = """
CREATE OR REPLACE FUNCTION widget_complete_registration_v2(plan jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    addr jsonb := plan->'address';
    taken boolean;
    owner_id text;
    mail jsonb;
BEGIN
    -- Claim the flow: insert an unsaved one, or move a saved one on from its step.
    -- Either finds the row already taken when another request completed it first.
    IF jsonb_typeof(plan->'new_flow') = 'object' THEN
        INSERT INTO flows SELECT * FROM jsonb_populate_record(NULL::flows, plan->'new_flow')
            ON CONFLICT (id) DO NOTHING;
    ELSE
        UPDATE flows SET
            state = plan->'flow_changes'->>'state',
            data = (plan->'flow_changes'->'data')::json,
            password_hash = NULL,
            address = plan->'flow_changes'->>'address',
            user_id = plan->'flow_changes'->>'user_id',
            updated_at = (plan->'flow_changes'->>'updated_at')::timestamptz
        WHERE id = plan->>'flow_id' AND state = 'form' AND step = plan->>'flow_step';
    END IF;
    IF NOT FOUND THEN
        RETURN 'replayed';
    END IF;

    INSERT INTO users SELECT * FROM jsonb_populate_record(NULL::users, plan->'user');
    INSERT INTO addresses SELECT * FROM jsonb_populate_record(NULL::addresses, addr)
        ON CONFLICT (pool_id, kind, value) DO NOTHING;
    taken := NOT FOUND;
    IF taken THEN
        -- A registration that was never activated and whose code expired gives the
        -- address up; active, inactive, fresh and admin-created accounts keep it.
        SELECT u.id INTO owner_id
        FROM addresses a JOIN users u ON u.id = a.user_id
        WHERE a.pool_id = addr->>'pool_id' AND a.kind = addr->>'kind'
            AND a.value = addr->>'value' AND a.status = 'unverified'
            AND u.status = 'new' AND u.created_by IS NULL
            AND u.created_at < (plan->>'abandoned_before')::timestamptz;
        IF owner_id IS NOT NULL THEN
            DELETE FROM users WHERE id = owner_id AND status = 'new';
            IF FOUND AND jsonb_typeof(plan->'released_event') = 'object' THEN
                -- The partner was told about that registration; now it is gone.
                INSERT INTO webhook_events (message_id, tenant_id, pool_id, app_id, type,
                                            user_id, data, fanned_out, created_at)
                SELECT message_id, tenant_id, pool_id, app_id, type,
                       owner_id, data, fanned_out, created_at
                FROM jsonb_populate_record(NULL::webhook_events,
                    jsonb_set(plan->'released_event', '{data,user,id}', to_jsonb(owner_id)));
            END IF;
            INSERT INTO addresses SELECT * FROM jsonb_populate_record(NULL::addresses, addr)
                ON CONFLICT (pool_id, kind, value) DO NOTHING;
            taken := NOT FOUND;
        END IF;
    END IF;

    IF taken THEN
        DELETE FROM users WHERE id = plan->'user'->>'id';
        UPDATE flows SET user_id = NULL WHERE id = plan->>'flow_id';
        INSERT INTO codes SELECT * FROM jsonb_populate_record(
            NULL::codes, plan->'code' || '{"user_id": null}'::jsonb);
        mail := plan->'notice';
    ELSE
        INSERT INTO credentials
            SELECT * FROM jsonb_populate_record(NULL::credentials, plan->'credential');
        INSERT INTO codes SELECT * FROM jsonb_populate_record(NULL::codes, plan->'code');
        IF jsonb_typeof(plan->'event') = 'object' THEN
            INSERT INTO webhook_events (message_id, tenant_id, pool_id, app_id, type,
                                        user_id, data, fanned_out, created_at)
            SELECT message_id, tenant_id, pool_id, app_id, type,
                   user_id, data, fanned_out, created_at
            FROM jsonb_populate_record(NULL::webhook_events, plan->'event');
        END IF;
        mail := plan->'message';
    END IF;

    -- The hourly limit per address, counted and kept under a lock per recipient.
    PERFORM pg_advisory_xact_lock(hashtext(mail->>'recipient'));
    IF (SELECT count(*) FROM outbox WHERE recipient = mail->>'recipient'
            AND created_at > (plan->>'since')::timestamptz) < (plan->>'mail_per_hour')::int THEN
        INSERT INTO outbox (channel, recipient, subject, body_text, body_html, status,
                            attempts, next_attempt_at, last_error, created_at, sent_at)
        SELECT channel, recipient, subject, body_text, body_html, status,
               attempts, next_attempt_at, last_error, created_at, sent_at
        FROM jsonb_populate_record(NULL::outbox, mail);
    END IF;
    RETURN CASE WHEN taken THEN 'taken' ELSE 'created' END;
END
$$
"""
