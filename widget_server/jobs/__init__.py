"""Background jobs on a pool's users: exports, imports (with their dry run) and bulk
actions, for administrators of the pool.

::

    admin ──start──→ queued ──claim (lease)──→ running ──batches──→ done
                       │                         │  ↺ checkpoint        ├→ failed
                       └──cancel──→ cancelled ←──┘  (cancel_requested)  └→ cancelled

- ``store``: the ``jobs`` table as a queue: create, claim with a lease, checkpoint (in
  the transaction of a batch's changes), finish, cancel.
- ``service``: what administrators call (guarded and audited like ``admin/users.py``).
- ``worker``: ``JobWorker``, one per server process, started with the app; it runs
  one job at a time, batch by batch.
- ``export``, ``importing``, ``bulk``: the three kinds; ``selection``: which users a
  bulk action or export means; ``files``: where their files live.
"""
