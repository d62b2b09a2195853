"""Outgoing messages: written to the outbox in the caller's transaction, delivered later."""
