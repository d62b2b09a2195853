"""The JSON admin API (``/api/admin``): API-key authentication, one module per resource,
one error shape, every response documented in the OpenAPI document."""
