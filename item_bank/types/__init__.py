"""The item-type registry: the one list of item types; each type lives in ``item_bank/types/<name>.py``.

A type is an :class:`~item_bank.types.base.ItemType` subclass whose module exposes an instance as
``TYPE``. The built-in types below are loaded on first use (their modules import the QTI helpers,
which import validation, which imports this registry); :func:`register` adds another at run time.
Adding a type: write its module, add its name to ``BUILTIN_TYPES``, and its player module
``webapp/static/player/types/<name>.js``.
"""

from __future__ import annotations

import importlib
import threading

from item_bank.types.base import ItemType

__all__ = [
    "BUILTIN_TYPES",
    "ItemType",
    "get",
    "names",
    "partial_credit_names",
    "register",
    "type_fields",
    "unregister",
]

#: The built-in types, in the order error messages and documents list them.
BUILTIN_TYPES: tuple[str, ...] = (
    "single_choice",
    "multiple_response",
    "ordering",
    "matching",
    "short_answer",
    "grid_path",
)

_types: dict[str, ItemType] = {}
_loaded = False
_lock = threading.RLock()


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        for name in BUILTIN_TYPES:
            module = importlib.import_module(f"item_bank.types.{name}")
            _types.setdefault(name, module.TYPE)
        _loaded = True


def register(item_type: ItemType) -> ItemType:
    """Add a type (ValueError if its name is taken or its attributes are missing); returns it."""
    _load_builtins()
    name = getattr(item_type, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"an item type needs a name, found {name!r}")
    for attribute in ("fields", "response_field"):
        if not getattr(item_type, attribute, None):
            raise ValueError(f"item type {name} needs `{attribute}`")
    with _lock:
        if name in _types:
            raise ValueError(f"item type {name!r} is already registered; unregister it first")
        _types[name] = item_type
    return item_type


def unregister(name: str) -> None:
    """Remove a type added with :func:`register` (the built-in ones stay)."""
    if name in BUILTIN_TYPES:
        raise ValueError(f"{name} is a built-in item type and cannot be unregistered")
    with _lock:
        _types.pop(name, None)


def get(name: str) -> ItemType:
    """The registered type called `name` (KeyError naming the known types otherwise)."""
    _load_builtins()
    try:
        return _types[name]
    except KeyError:
        raise KeyError(f"unknown item type {name!r}; known: {', '.join(_types)}") from None


def names() -> tuple[str, ...]:
    """Every registered type name: the built-in ones first, in their order."""
    _load_builtins()
    return tuple(_types)


def partial_credit_names() -> frozenset[str]:
    """Types that may be scored 0/1/2 (max_score 2)."""
    _load_builtins()
    return frozenset(name for name, t in _types.items() if t.partial_credit)


def type_fields() -> frozenset[str]:
    """Every type-specific item-file field of any registered type."""
    _load_builtins()
    return frozenset(f for t in _types.values() for f in t.fields)
