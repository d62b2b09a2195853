"""Administration: who may do what (``access``), what they did (``audit``), and the
services the admin API and portal share (pools, schemas, principals, users)."""
