"""Errors of the item bank: invalid item files and malformed student responses."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ItemBankError", "ItemValidationError", "ResponseError"]


class ItemValidationError(ValueError):
    """One problem in one item, located by file, item id and field so an author can fix it."""

    def __init__(self, file: str, item_id: str | None, field: str | None, message: str) -> None:
        self.file = str(file)
        self.item_id = item_id
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        item = self.item_id if self.item_id else "?"
        field = self.field if self.field else "-"
        text = f"{self.file}: item {item}, field {field}: {self.message}"
        # A lone surrogate (e.g. in a bad id) cannot be printed as UTF-8: show it escaped.
        return text.encode("utf-8", "backslashreplace").decode("utf-8")

    def __reduce__(self):  # keep pickling (multiprocessing, caches) working with a custom __init__
        return (type(self), (self.file, self.item_id, self.field, self.message))


class ItemBankError(ValueError):
    """All the validation errors of a load or import, so a bank is accepted whole or not at all."""

    def __init__(self, errors: Iterable[ItemValidationError]) -> None:
        self.errors: list[ItemValidationError] = list(errors)
        if not self.errors:
            raise ValueError("ItemBankError needs at least one ItemValidationError")
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)

    def __reduce__(self):
        return (type(self), (self.errors,))


class ResponseError(ValueError):
    """A student's response that does not fit the item (wrong shape, unknown id): HTTP 422, never stored."""

    def __init__(self, item_id: str, field: str, message: str) -> None:
        self.item_id = item_id
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"item {self.item_id}, field {self.field}: {self.message}"

    def __reduce__(self):
        return (type(self), (self.item_id, self.field, self.message))
