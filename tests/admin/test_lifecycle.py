"""The user status table: every (status, action) pair, legal or not."""

from __future__ import annotations

import pytest

from widget_server.errors import Conflict
from widget_server.users.lifecycle import STATUSES, TRANSITIONS, can_log_in, transition

ACTIONS = ("activate", "deactivate", "reactivate", "delete")
LEGAL = {
    ("new", "activate"): "active",
    ("active", "deactivate"): "inactive",
    ("inactive", "reactivate"): "active",
    ("new", "delete"): "deleted",
    ("active", "delete"): "deleted",
    ("inactive", "delete"): "deleted",
}


def test_the_table_is_exactly_the_designed_one() -> None:
    assert dict(TRANSITIONS) == LEGAL


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", ACTIONS)
def test_every_pair_is_legal_or_a_conflict(status: str, action: str) -> None:
    if (status, action) in LEGAL:
        assert transition(status, action) == LEGAL[(status, action)]
        return
    with pytest.raises(Conflict) as caught:
        transition(status, action)
    assert caught.value.message_id == "admin.status_transition"
    assert caught.value.params == {"status": status, "action": action}


def test_unknown_status_or_action_is_a_conflict_too() -> None:
    for status, action in (("banned", "activate"), ("active", "promote")):
        with pytest.raises(Conflict):
            transition(status, action)


def test_deleted_is_final() -> None:
    assert not [a for (s, a) in TRANSITIONS if s == "deleted"]


def test_only_active_users_log_in() -> None:
    assert [s for s in STATUSES if can_log_in(s)] == ["active"]
