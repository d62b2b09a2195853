"""PostgreSQL: the registration's completion as one function, called in one round trip

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

``widget_server.flows.completion.complete_registration`` is nine statements. Through
asyncpg each is a round trip whose client side runs on the event loop (~0.4 ms of its
CPU apiece in a registration burst); on PostgreSQL the same transaction is one call of
this function, in one statement, so it needs no BEGIN and COMMIT of its own either.
It takes the completion as one JSON document (``widget_server.flows.completion_pg``):
whole rows, built with the models' defaults, and both outbox rows (the activation
code, and the notice to the owner of an address that is taken), of which it stores
the one that applies. SQLite keeps the Python version, which runs in the thread that
hashed the password. The tests run every registration case against both.

The function is versioned by name: a change to the completion is a new function in a
new migration, so a database and the code that calls it always agree.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION widget_complete_registration_v1(plan jsonb) RETURNS text
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


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS widget_complete_registration_v1(jsonb)")
