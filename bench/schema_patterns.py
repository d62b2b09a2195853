"""Cost of validating a registration payload whose schema has everyday ``pattern``s.

Runs in-process (no server): ``validate_payload`` on a cached validator, as the last
registration step does, for a schema with five patterned fields and the built-in
business-customer schema (no patterns: the baseline), plus the cost of the store-time
pattern check. Compare two checkouts by running it with each on ``PYTHONPATH``.

    .venv/bin/python bench/schema_patterns.py            # default N=20000
    .venv/bin/python bench/schema_patterns.py --n 2000   # a quick look
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from typing import Any

from widget_server.forms import KeyedSchema, validate_payload
from widget_server.forms.safety import schema_problems

try:  # absent before the switch to RE2: then only Python re is measured
    from widget_server.forms.regexes import matches
except ImportError:  # pragma: no cover
    matches = None
from widget_server.seed import load_builtin_schema

DRAFT = "https://json-schema.org/draft/2020-12/schema"
PATTERNED: dict[str, Any] = {
    "$schema": DRAFT,
    "type": "object",
    "properties": {
        "email": {"type": "string", "format": "email", "x-identifier": True},
        "username": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{2,31}$"},
        "company": {"type": "string", "pattern": "^[^<>]+$"},
        "postcode": {"type": "string", "pattern": r"^\d{5}$"},
        "customer_number": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{6}$"},
        "phone": {"type": "string", "pattern": r"^\+?[0-9 ]{6,20}$"},
    },
    "required": ["email", "username"],
}
PATTERNED_PAYLOAD = {
    "email": "jane.doe@example.com",
    "username": "jane_doe",
    "company": "Example Industries GmbH",
    "postcode": "10115",
    "customer_number": "DE123456",
    "phone": "+49 30 1234567",
}
BUSINESS_PAYLOAD = {
    "email": "jane@company.example",
    "first_name": "Jane",
    "last_name": "Doe",
    "date_of_birth": "1990-04-01",
    "company": "Example Industries",
    "job_title": "Buyer",
    "country": "DE",
    "terms": True,
}


def per_call_us(fn: Any, n: int, rounds: int = 5) -> float:
    """Median over ``rounds`` of the mean microseconds per call."""
    fn()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - started) / n * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20_000)
    n = parser.parse_args().n
    patterned = KeyedSchema(PATTERNED)
    business = KeyedSchema(load_builtin_schema("business-customer"))
    assert validate_payload(patterned, PATTERNED_PAYLOAD) == {}
    rows = [
        ("validate, 5 patterns", lambda: validate_payload(patterned, PATTERNED_PAYLOAD)),
        ("validate, business (none)", lambda: validate_payload(business, BUSINESS_PAYLOAD)),
        ("store-time schema check", lambda: schema_problems(PATTERNED, "payload")),
    ]
    fields = [
        (p["pattern"], PATTERNED_PAYLOAD[k])
        for k, p in PATTERNED["properties"].items()
        if "pattern" in p
    ]
    rows.append(("5 searches, Python re", lambda: [re.search(p, v) for p, v in fields]))
    if matches is not None:
        rows.append(("5 searches, RE2", lambda: [matches(p, v) for p, v in fields]))
    for name, fn in rows:
        runs = max(n // 20, 10) if "store" in name else n
        print(f"{name:28s} {per_call_us(fn, runs):8.1f} us/call  (N={runs})")


if __name__ == "__main__":
    main()
