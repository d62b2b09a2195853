import copy
from collections.abc import Callable
from typing import Any

import pytest

DRAFT = "https://json-schema.org/draft/2020-12/schema"

BUSINESS: dict[str, Any] = {
    "$schema": DRAFT,
    "type": "object",
    "x-steps": [
        {"id": "account", "title": "Your account", "description": "How you sign in"},
        {"id": "person", "title": "About you"},
        {"id": "company", "title": "Your company"},
        {"id": "legal", "title": "Terms"},
    ],
    "properties": {
        "email": {
            "type": "string",
            "format": "email",
            "title": "Work email",
            "x-identifier": True,
            "maxLength": 254,
        },
        "phone": {
            "type": "string",
            "format": "tel",
            "title": "Phone",
            "x-step": "account",
            "x-default-region": "DE",
        },
        "first_name": {
            "type": "string",
            "title": "First name",
            "minLength": 1,
            "maxLength": 50,
            "x-step": "person",
            "x-autocomplete": "given-name",
        },
        "last_name": {"type": "string", "title": "Last name", "x-step": "person", "x-order": -1},
        "date_of_birth": {
            "type": "string",
            "format": "date",
            "title": "Date of birth",
            "description": "We only use this to check your age.",
            "x-step": "person",
            "x-order": 5,
        },
        "company": {
            "type": "string",
            "title": "Company",
            "minLength": 2,
            "maxLength": 100,
            "pattern": "^[^<>]+$",
            "x-step": "company",
        },
        "job_title": {
            "type": "string",
            "title": "Job title",
            "x-widget": "textarea",
            "x-placeholder": "e.g. Buyer",
            "x-step": "company",
        },
        "country": {
            "$ref": "#/$defs/country",
            "title": "Country",
            "x-step": "company",
            "x-autocomplete": "country",
        },
        "size": {
            "type": "string",
            "title": "Company size",
            "enum": ["1-10", "11-50", "51+"],
            "x-widget": "radio",
            "x-step": "company",
        },
        "employees": {
            "type": "integer",
            "title": "Employees",
            "minimum": 1,
            "maximum": 100000,
            "x-step": "company",
        },
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string", "minLength": 2}},
            "x-step": "company",
        },
        "terms": {
            "type": "boolean",
            "const": True,
            "title": "I accept the terms",
            "x-step": "legal",
        },
        "newsletter": {"type": "boolean", "title": "Send me news", "x-step": "legal"},
        "notes": {"type": "string", "title": "Anything else?", "x-step": "extra"},
    },
    "required": ["email", "first_name", "last_name", "company", "country", "terms"],
    "$defs": {
        "country": {
            "type": "string",
            "oneOf": [
                {"const": "DE", "title": "Germany"},
                {"const": "FR", "title": "France"},
                {"const": "US", "title": "United States"},
            ],
        }
    },
}


@pytest.fixture
def business() -> dict[str, Any]:
    return copy.deepcopy(BUSINESS)


@pytest.fixture
def make_schema() -> Callable[..., dict[str, Any]]:
    """Factory for a one-step schema: an email identifier plus the given properties."""

    def make(**props: dict[str, Any]) -> dict[str, Any]:
        return {
            "$schema": DRAFT,
            "type": "object",
            "properties": {
                "email": {"type": "string", "format": "email", "x-identifier": True},
                **props,
            },
            "required": ["email"],
        }

    return make
