"""item_bank: CT items as data: schema, validation, per-type scoring, QTI 3.0 import/export.

Each item type lives in ``item_bank/types/<name>.py`` behind the registry ``item_bank.types``.

Pure Python data logic (no Flask, no SQL): the web and assessment layers call these functions.
"""

from item_bank import types as _types
from item_bank.errors import ItemBankError, ItemValidationError, ResponseError
from item_bank.grid import Outcome, simulate
from item_bank.loader import content_dir, filter_items, load_bank, load_item_file
from item_bank.model import (
    DIMENSIONS,
    GRADES,
    STATUSES,
    Grid,
    IrtParameters,
    Item,
    ItemStatus,
    Option,
    ShortAnswerKey,
    Text,
)
from item_bank.qti import export_qti3, import_qti
from item_bank.responses import score_response, shuffle_options, validate_response
from item_bank.types import ItemType, register, unregister
from item_bank.validation import (
    build_item,
    validate_bank,
    validate_item,
    verify_published,
)

__all__ = [
    "DIMENSIONS",
    "GRADES",
    "ITEM_TYPES",
    "PARTIAL_CREDIT_TYPES",
    "STATUSES",
    "Grid",
    "IrtParameters",
    "Item",
    "ItemBankError",
    "ItemStatus",
    "ItemType",
    "ItemValidationError",
    "Option",
    "Outcome",
    "ResponseError",
    "ShortAnswerKey",
    "Text",
    "build_item",
    "content_dir",
    "export_qti3",
    "filter_items",
    "import_qti",
    "load_bank",
    "load_item_file",
    "register",
    "score_response",
    "shuffle_options",
    "simulate",
    "unregister",
    "validate_bank",
    "validate_item",
    "validate_response",
    "verify_published",
]

# Derived from the registry once every module above is loaded (the type modules import the QTI helpers).
#: The built-in item types (item_bank.types.names() also lists types registered later).
ITEM_TYPES = _types.names()
#: Types that may be scored 0/1/2 (max_score 2).
PARTIAL_CREDIT_TYPES = _types.partial_credit_names()
