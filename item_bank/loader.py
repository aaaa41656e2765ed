"""Loading items from YAML files, directories of them, or QTI packages; all-or-nothing."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from item_bank.errors import ItemBankError, ItemValidationError
from item_bank.model import DIMENSIONS, GRADES, STATUSES, Item
from item_bank.validation import IMAGE_NAME_PATTERN, collect_item, validate_bank

__all__ = [
    "MAX_ITEM_FILE_BYTES",
    "content_dir",
    "filter_items",
    "load_bank",
    "load_item_file",
]

MAX_ITEM_FILE_BYTES = 1024 * 1024
_YAML_SUFFIXES = (".yaml", ".yml")


def content_dir() -> Path:
    """The starter bank shipped with the package (item_bank/content/)."""
    return Path(__file__).resolve().parent / "content"


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses repeated mapping keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue  # construct_mapping reports unhashable keys itself
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, f"repeated key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _checked(construct: Any, what: str) -> Any:
    """Wrap a scalar constructor so a value Python cannot build becomes a located YAML error."""

    def checked(loader: _StrictLoader, node: yaml.ScalarNode) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, OverflowError) as exc:
            shown = node.value if len(node.value) <= 40 else f"{node.value[:12]}... ({len(node.value)} characters)"
            reason = "too many digits" if "integer string conversion" in str(exc) else str(exc)
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {shown!r} as {what} ({reason}); quote it if it is text", node.start_mark
            ) from None

    return checked


# e.g. an integer of more than 4300 digits, or a date such as 2024-13-45
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _checked(yaml.SafeLoader.construct_yaml_int, "an integer"))
_StrictLoader.add_constructor(
    "tag:yaml.org,2002:timestamp", _checked(yaml.SafeLoader.construct_yaml_timestamp, "a date")
)


def _line_column(text: str, position: int) -> str:
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return f"line {line}, column {column}"


def _yaml_error(file: str, exc: yaml.YAMLError, text: str) -> ItemValidationError:
    if isinstance(exc, yaml.reader.ReaderError):
        # The reader reports a character offset only; authors need a line and column.
        char = exc.character if isinstance(exc.character, int) else ord(exc.character or "\0")
        return ItemValidationError(
            file, None, None,
            f"YAML syntax error at {_line_column(text, exc.position)}: character U+{char:04X} is not allowed "
            f"({exc.reason}); remove it or write it as an escape in a double-quoted string",
        )
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    detail = f"{context}: {problem}" if context else problem
    return ItemValidationError(file, None, None, f"YAML syntax error{where}: {detail}")


def _read_text(path: Path, file: str, errors: list[ItemValidationError]) -> str | None:
    try:
        size = path.stat().st_size
        if size > MAX_ITEM_FILE_BYTES:
            errors.append(
                ItemValidationError(file, None, None, f"file larger than {MAX_ITEM_FILE_BYTES} bytes")
            )
            return None
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        errors.append(ItemValidationError(file, None, None, f"not UTF-8 text: {exc}"))
    except OSError as exc:
        errors.append(ItemValidationError(file, None, None, f"cannot read: {exc.strerror or exc}"))
    return None


def _side_images(
    path: Path, item_id: str, errors: list[ItemValidationError]
) -> dict[str, str]:
    """SVG files beside the item named <id>.<name>.svg."""
    images: dict[str, str] = {}
    prefix = item_id + "."
    for svg in sorted(path.parent.glob(f"{item_id}.*.svg")):
        name = svg.name[len(prefix) : -len(".svg")]
        if not IMAGE_NAME_PATTERN.match(name):
            continue
        text = _read_text(svg, str(svg), errors)
        if text is not None:
            images[name] = text
    return images


def _collect_file(path: Path) -> tuple[Item | None, list[ItemValidationError]]:
    file = str(path)
    errors: list[ItemValidationError] = []
    text = _read_text(path, file, errors)
    if text is None:
        return None, errors
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        return None, [_yaml_error(file, exc, text)]
    except RecursionError:
        return None, [ItemValidationError(file, None, None, "YAML nested too deeply to be an item")]
    extra: dict[str, str] = {}
    if isinstance(data, dict) and isinstance(data.get("id"), str) and data["id"]:
        extra = _side_images(path, data["id"], errors)
    item, item_errors = collect_item(data, file, extra)
    return item, errors + item_errors


def load_item_file(path: str | os.PathLike[str]) -> Item:
    """Load and validate one item YAML file (plus its <id>.<name>.svg images); raise ItemBankError."""
    item, errors = _collect_file(Path(path))
    if errors:
        raise ItemBankError(errors)
    assert item is not None
    return item


def _yaml_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__")))
        files.extend(
            Path(dirpath) / f
            for f in sorted(filenames)
            if f.lower().endswith(_YAML_SUFFIXES) and not f.startswith(".")  # X.YAML too
        )
    return files


def load_bank(
    path: str | os.PathLike[str],
    *,
    default_dimension: str | None = None,
    default_grades: tuple[int, ...] = GRADES,
) -> list[Item]:
    """Load every item under `path` and validate the bank; raise ItemBankError listing all errors.

    `path` may be a directory of YAML files (walked recursively), one YAML file, or a QTI
    package (a directory with imsmanifest.xml, a .zip, or one item .xml). `default_dimension`
    and `default_grades` are used for QTI items that carry no ctcensus metadata (foreign
    packages); YAML items always state their own. Items come back sorted by id, version.
    """
    root = Path(path)
    if not root.exists():
        raise ItemBankError([ItemValidationError(str(root), None, None, "no such file or directory")])
    if root.is_dir() and not (root / "imsmanifest.xml").is_file():
        items: list[Item] = []
        errors: list[ItemValidationError] = []
        for file in _yaml_files(root):
            item, file_errors = _collect_file(file)
            errors.extend(file_errors)
            if item is not None:
                items.append(item)
        errors.extend(validate_bank(items))
        if errors:
            raise ItemBankError(errors)
    elif root.is_file() and root.suffix.lower() in _YAML_SUFFIXES:
        items = [load_item_file(root)]
    else:
        from item_bank.qti import import_qti

        items = import_qti(root, default_dimension=default_dimension, default_grades=default_grades)
    return sorted(items, key=lambda i: (i.id, i.version))


def filter_items(
    items: Iterable[Item],
    grade: int | None = None,
    dimension: str | None = None,
    status: str | None = None,
) -> list[Item]:
    """Items for a grade (5 or 8), a dimension (D1-D4) and/or a status; None means any."""
    if grade is not None and int(grade) not in GRADES:
        raise ValueError(f"grade must be one of {GRADES}, got {grade!r}")
    if dimension is not None and dimension.upper() not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}, got {dimension!r}")
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    return [
        i
        for i in items
        if (grade is None or int(grade) in i.grades)
        and (dimension is None or i.dimension == dimension.upper())
        and (status is None or i.status == status)
    ]
