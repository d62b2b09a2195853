"""Forms are data first: a pool's JSON Schema → steps → form nodes; submitted fields → values.

Templates in ``widgets/nodes/`` draw the nodes (``nodes/node.html`` dispatches by type);
they need ``node``, a ``t(msg) -> str`` callable, and ``TEMPLATE_GLOBALS`` in the
environment's globals. See ``schema`` for the ``x-`` keywords we read.
"""

from widget_server.forms.build import nodes_for_step
from widget_server.forms.nodes import TEMPLATE_GLOBALS, FormNode, NodeType, Option
from widget_server.forms.reading import HARD_CAP, merge_step, read_step
from widget_server.forms.schema import (
    KeyedSchema,
    Step,
    check_schema,
    identifier_field,
    steps_of,
)
from widget_server.forms.validation import validate_payload

__all__ = [
    "HARD_CAP",
    "TEMPLATE_GLOBALS",
    "FormNode",
    "KeyedSchema",
    "NodeType",
    "Option",
    "Step",
    "check_schema",
    "identifier_field",
    "merge_step",
    "nodes_for_step",
    "read_step",
    "steps_of",
    "validate_payload",
]
