"""registration function v3: a taken address writes what a new one writes, then rolls it back;
the sort-address trigger skips an update that changes nothing

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

``widget_complete_registration_v3`` completes a registration like v2 (migration 0007) and
answers the same ('created', 'taken', 'replayed'), but a taken address no longer does
less work than a new one. v2 inserted the user and the address for both, then for a
taken address deleted the user and updated the flow, where a new one kept its rows and
wrote its credential: a few hundred requests could tell the two apart by their time,
one way or the other depending on the tables' state.

v3 looks the address's owner up first (one lookup for both), claims the flow for the new
user or for nobody, writes the code and the one email, and then writes the new account's
rows (user, address, credential, webhook event) inside a block whose subtransaction a
taken address rolls back. A taken address writes its address row under a stand-in value
(``#`` and the new user's id, which no address has), so the same rows go through the
same indexes either way. If another registration takes a new address between the lookup
and the insert, the insert finds it taken: the block rolls back, and the flow, the code
and the email are set as for any taken address.

v2 stays for processes of the previous release that still call it during an upgrade.

v3 also inserts the user with its ``sort_address`` already set (the address it writes),
and ``widget_users_sort_address`` (migration 0009) now updates a user only when the
smallest address really changed. Before, every registration on PostgreSQL wrote its
user row twice, and the second version went into every index of ``users``, the two
trigram GIN indexes among them (~0.9 ms of the database's time per registration).
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)
        op.execute(SORT_ADDRESS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS widget_complete_registration_v3(jsonb)")
        op.execute(SORT_ADDRESS_0009)


SORT_ADDRESS = """
CREATE OR REPLACE FUNCTION widget_users_sort_address() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  who varchar;
BEGIN
  IF TG_OP = 'DELETE' THEN who := OLD.user_id; ELSE who := NEW.user_id; END IF;
  UPDATE users SET sort_address = smallest.value
  FROM (SELECT coalesce((SELECT min(value) FROM addresses WHERE user_id = who), '') AS value)
      AS smallest
  WHERE id = who AND sort_address IS DISTINCT FROM smallest.value;
  IF TG_OP = 'UPDATE' AND OLD.user_id <> NEW.user_id THEN
    UPDATE users SET sort_address = smallest.value
    FROM (SELECT coalesce((SELECT min(value) FROM addresses WHERE user_id = OLD.user_id), '')
              AS value) AS smallest
    WHERE id = OLD.user_id AND sort_address IS DISTINCT FROM smallest.value;
  END IF;
  RETURN NULL;
END $$"""

#: Migration 0009's body, restored by the downgrade.
SORT_ADDRESS_0009 = """
CREATE OR REPLACE FUNCTION widget_users_sort_address() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  who varchar;
BEGIN
  IF TG_OP = 'DELETE' THEN who := OLD.user_id; ELSE who := NEW.user_id; END IF;
  UPDATE users SET sort_address = coalesce(
    (SELECT min(value) FROM addresses WHERE user_id = who), '')
  WHERE id = who;
  IF TG_OP = 'UPDATE' AND OLD.user_id <> NEW.user_id THEN
    UPDATE users SET sort_address = coalesce(
      (SELECT min(value) FROM addresses WHERE user_id = OLD.user_id), '')
    WHERE id = OLD.user_id;
  END IF;
  RETURN NULL;
END $$"""


FUNCTION = """
CREATE OR REPLACE FUNCTION widget_complete_registration_v3(plan jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    addr jsonb := plan->'address';
    new_user text := plan->'user'->>'id';
    owner_id text;
    abandoned boolean;
    taken boolean;
    mail jsonb;
    written jsonb;
BEGIN
    -- The address's owner. A registration that was never activated and whose code
    -- expired gives the address up; active, inactive, fresh and admin-created accounts
    -- keep it.
    SELECT u.id, (a.status = 'unverified' AND u.status = 'new' AND u.created_by IS NULL
                  AND u.created_at < (plan->>'abandoned_before')::timestamptz)
        INTO owner_id, abandoned
        FROM addresses a JOIN users u ON u.id = a.user_id
        WHERE a.pool_id = addr->>'pool_id' AND a.kind = addr->>'kind'
            AND a.value = addr->>'value';
    IF abandoned THEN
        DELETE FROM users WHERE id = owner_id AND status = 'new';
        IF FOUND THEN
            IF jsonb_typeof(plan->'released_event') = 'object' THEN
                -- The partner was told about that registration; now it is gone.
                INSERT INTO webhook_events (message_id, tenant_id, pool_id, app_id, type,
                                            user_id, data, fanned_out, created_at)
                SELECT message_id, tenant_id, pool_id, app_id, type,
                       owner_id, data, fanned_out, created_at
                FROM jsonb_populate_record(NULL::webhook_events,
                    jsonb_set(plan->'released_event', '{data,user,id}', to_jsonb(owner_id)));
            END IF;
            owner_id := NULL;
        END IF;
    END IF;
    taken := owner_id IS NOT NULL;

    -- Claim the flow, for the new user or (taken) for nobody: insert an unsaved one, or
    -- move a saved one on from its step. Either finds the row already taken when
    -- another request completed it first.
    IF jsonb_typeof(plan->'new_flow') = 'object' THEN
        INSERT INTO flows SELECT * FROM jsonb_populate_record(NULL::flows,
            plan->'new_flow' || jsonb_build_object(
                'user_id', CASE WHEN taken THEN NULL ELSE new_user END))
            ON CONFLICT (id) DO NOTHING;
    ELSE
        UPDATE flows SET
            state = plan->'flow_changes'->>'state',
            data = (plan->'flow_changes'->'data')::json,
            password_hash = NULL,
            address = plan->'flow_changes'->>'address',
            user_id = CASE WHEN taken THEN NULL ELSE new_user END,
            updated_at = (plan->'flow_changes'->>'updated_at')::timestamptz
        WHERE id = plan->>'flow_id' AND state = 'form' AND step = plan->>'flow_step';
    END IF;
    IF NOT FOUND THEN
        RETURN 'replayed';
    END IF;

    -- The new account's rows; for a taken address the same rows, the address under a
    -- stand-in value, rolled back with the block's subtransaction.
    written := CASE WHEN taken THEN addr || jsonb_build_object('value', '#' || new_user)
                    ELSE addr END;
    BEGIN
        -- The user's sort_address is the address it gets, so the trigger on addresses
        -- finds nothing to change.
        INSERT INTO users SELECT * FROM jsonb_populate_record(NULL::users,
            plan->'user' || jsonb_build_object('sort_address', written->>'value'));
        INSERT INTO addresses SELECT * FROM jsonb_populate_record(NULL::addresses, written)
            ON CONFLICT (pool_id, kind, value) DO NOTHING;
        taken := taken OR NOT FOUND;  -- NOT FOUND: taken since the lookup
        INSERT INTO credentials
            SELECT * FROM jsonb_populate_record(NULL::credentials, plan->'credential');
        IF jsonb_typeof(plan->'event') = 'object' THEN
            INSERT INTO webhook_events (message_id, tenant_id, pool_id, app_id, type,
                                        user_id, data, fanned_out, created_at)
            SELECT message_id, tenant_id, pool_id, app_id, type,
                   user_id, data, fanned_out, created_at
            FROM jsonb_populate_record(NULL::webhook_events, plan->'event');
        END IF;
        IF taken THEN
            RAISE EXCEPTION USING ERRCODE = 'WR001';
        END IF;
    EXCEPTION WHEN SQLSTATE 'WR001' THEN
        IF owner_id IS NULL THEN  -- taken since the lookup: the flow has no user after all
            UPDATE flows SET user_id = NULL WHERE id = plan->>'flow_id';
        END IF;
    END;

    INSERT INTO codes SELECT * FROM jsonb_populate_record(NULL::codes,
        plan->'code' || jsonb_build_object('user_id', CASE WHEN taken THEN NULL ELSE new_user END));

    -- The activation code, or the notice to the owner of a taken address; the hourly
    -- limit per address counted and kept under a lock per recipient.
    mail := plan->(CASE WHEN taken THEN 'notice' ELSE 'message' END);
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
