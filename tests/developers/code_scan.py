"""What the code itself sends and sets, found by reading it (AST for Python, the two
scripts' text for JavaScript), so the contract and the reference can be compared with
it: a new event or claim in the code fails a test until it is documented."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import widget_server
from widget_server.assets import asset_dir
from widget_server.oidc.mapping import PROFILE_CLAIMS

PACKAGE = Path(widget_server.__file__).parent
WIDGET_JS = (asset_dir("static") / "widget.js").read_text()
EMBED_JS = (asset_dir("static") / "embed.js").read_text()


def _is_struct(node: ast.ClassDef) -> bool:
    for base in node.bases:
        name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
        if name == "Struct":
            return True
    return False


@functools.cache
def event_structs() -> dict[str, str]:
    """``type`` → ``module:Class`` of every msgspec Struct in the package named
    ``…Event`` or ``…Message`` whose ``type`` field has a string default: the payloads
    the widget posts."""
    found: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef) or not _is_struct(node):
                continue
            if not node.name.endswith(("Event", "Message")):
                continue
            for item in node.body:
                if (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                        and item.target.id == "type" and isinstance(item.value, ast.Constant)
                        and isinstance(item.value.value, str)):
                    found[item.value.value] = f"{path.relative_to(PACKAGE)}:{node.name}"
    return found


def js_message_types() -> set[str]:
    """Message types the scripts create: widget.js's posts, embed.js's own events."""
    posted = set(re.findall(r'post\(\{\s*type:\s*"([a-z-]+)"', WIDGET_JS))
    own = set(re.findall(r'\btype:\s*"([a-z-]+)"', EMBED_JS))
    dispatched = set(re.findall(r'new CustomEvent\("([a-z-]+)"', EMBED_JS))
    return posted | own | dispatched


def object_keys(js_object: str) -> set[str]:
    """Keys of a flat JS object literal's body: ``v: 1, type: "error", reason: reason``."""
    return set(re.findall(r"(?:^|,)\s*([a-zA-Z_]+)\s*:", js_object))


def _keys_set_in(function: ast.FunctionDef) -> set[str]:
    """String keys a function writes: dict literals and ``x["key"] = ...``."""
    keys: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Dict):
            keys |= {k.value for k in node.keys
                     if isinstance(k, ast.Constant) and isinstance(k.value, str)}
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if (isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant)
                        and isinstance(target.slice.value, str)):
                    keys.add(target.slice.value)
    return keys


def claims_set(module: str, functions: set[str]) -> set[str]:
    tree = ast.parse((PACKAGE / module).read_text())
    found: set[str] = set()
    seen: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in functions:
            found |= _keys_set_in(node)
            seen.add(node.name)
    assert seen == functions, f"{module} no longer has {functions - seen}"
    return found


def id_token_claims() -> set[str]:
    """Every claim the ID token and userinfo can carry, as the code writes them."""
    # The profile claims are whichever a pool's claim mapping may fill (oidc/mapping.py
    # refuses any other key; mapped_claims writes the mapping's keys).
    return (
        claims_set("oidc/tokens.py", {"_id_claims"})
        | claims_set("oidc/claims.py", {"user_claims"})
        | set(PROFILE_CLAIMS)
    )


def string_constants_assigned_to(path: Path, name: str) -> set[str]:
    """String constants in the value of ``name = ...`` or a ``name=...`` argument."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        assigned = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        )
        passed = isinstance(node, ast.keyword) and node.arg == name
        if assigned or passed:
            value = node.value  # type: ignore[attr-defined]
            found |= {c.value for c in ast.walk(value)
                      if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return found
