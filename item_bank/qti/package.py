"""QTI content packages: reading members of a directory or zip safely, the manifest's item resources, writing.

Zip members are checked for path traversal and size before anything is read; a member's real
size is checked again while reading (the header may lie).
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from item_bank.errors import ItemValidationError
from item_bank.qti.xml import ctc_tag, local_name
from item_bank.sanitizer import parse_xml

__all__ = [
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "MAX_PACKAGE_BYTES",
    "DirPackage",
    "Package",
    "Resource",
    "ZipPackage",
    "read_manifest",
    "safe_member",
    "write_package",
]

MAX_MEMBER_BYTES = 8 * 1024 * 1024
MAX_PACKAGE_BYTES = 128 * 1024 * 1024
MAX_MEMBERS = 10_000


class Package:
    """Read-only access to a package's members by their package-relative POSIX path."""

    def __init__(self, label: str) -> None:
        self.label = label

    def where(self, member: str) -> str:
        """A member's location for error messages."""
        return f"{self.label}/{member}"

    def read(self, member: str) -> bytes:  # pragma: no cover - overridden
        """The member's bytes (ValueError when refused or too large)."""
        raise NotImplementedError

    def has(self, member: str) -> bool:  # pragma: no cover - overridden
        """Whether the member exists (and may be read)."""
        raise NotImplementedError


def safe_member(name: str) -> str | None:
    """The normalised member path, or None if it is absolute or climbs out of the package."""
    name = unquote(name).replace("\\", "/")
    if not name or name.startswith("/") or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        return None
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith(("../", "/")):
        return None
    return norm


class DirPackage(Package):
    """A package unpacked in a directory; no path may leave it (links included)."""

    def __init__(self, root: Path) -> None:
        super().__init__(str(root))
        self.root = root.resolve()

    def _path(self, member: str) -> Path:
        safe = safe_member(member)
        if safe is None:
            raise ValueError(f"refused path {member!r}: it leaves the package directory")
        path = (self.root / safe).resolve()
        if path != self.root and self.root not in path.parents:
            raise ValueError(f"refused path {member!r}: it leaves the package directory")
        return path

    def has(self, member: str) -> bool:
        try:
            return self._path(member).is_file()
        except ValueError:
            return False

    def read(self, member: str) -> bytes:
        path = self._path(member)
        if path.stat().st_size > MAX_MEMBER_BYTES:
            raise ValueError(f"{member} is larger than {MAX_MEMBER_BYTES} bytes")
        return path.read_bytes()


class ZipPackage(Package):
    """A zipped package; call open() first, which checks every member's name and size."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path) + "!")
        self.path = path
        self.members: dict[str, zipfile.ZipInfo] = {}

    def open(self) -> list[ItemValidationError]:
        """Check every member name and size before anything is read."""
        errors: list[ItemValidationError] = []
        try:
            zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as exc:
            return [ItemValidationError(str(self.path), None, None, f"not a readable zip file: {exc}")]
        with zf:
            infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            return [
                ItemValidationError(str(self.path), None, None, f"more than {MAX_MEMBERS} members")
            ]
        total = 0
        for info in infos:
            safe = safe_member(info.filename)
            if safe is None:
                errors.append(
                    ItemValidationError(
                        str(self.path),
                        None,
                        None,
                        f"refused member {info.filename!r}: absolute or '..' path (zip-slip)",
                    )
                )
                continue
            if info.file_size > MAX_MEMBER_BYTES:
                errors.append(
                    ItemValidationError(
                        str(self.path),
                        None,
                        None,
                        f"refused member {info.filename!r}: {info.file_size} bytes is more than "
                        f"{MAX_MEMBER_BYTES}",
                    )
                )
            total += info.file_size
            if not info.is_dir():
                self.members[safe] = info
        if total > MAX_PACKAGE_BYTES:
            errors.append(
                ItemValidationError(
                    str(self.path), None, None, f"unpacked size {total} is more than {MAX_PACKAGE_BYTES}"
                )
            )
        return errors

    def has(self, member: str) -> bool:
        safe = safe_member(member)
        return safe is not None and safe in self.members

    def read(self, member: str) -> bytes:
        safe = safe_member(member)
        if safe is None or safe not in self.members:
            raise ValueError(f"{member} is not in the package")
        with zipfile.ZipFile(self.path) as zf, zf.open(self.members[safe]) as fh:
            data = fh.read(MAX_MEMBER_BYTES + 1)  # the header's size may lie
        if len(data) > MAX_MEMBER_BYTES:
            raise ValueError(f"{member} is larger than {MAX_MEMBER_BYTES} bytes")
        return data


@dataclass
class Resource:
    """One item resource of the manifest: its item file, other files (images), ctc:item metadata."""

    href: str
    files: list[str] = field(default_factory=list)
    meta: Element | None = None


def read_manifest(pkg: Package) -> tuple[list[Resource], list[ItemValidationError]]:
    """The QTI item resources imsmanifest.xml lists, with safe member paths, and any problems."""
    where = pkg.where("imsmanifest.xml")
    try:
        root = parse_xml(pkg.read("imsmanifest.xml"))
    except (ValueError, OSError) as exc:
        return [], [ItemValidationError(where, None, None, str(exc))]
    resources: list[Resource] = []
    errors: list[ItemValidationError] = []
    for res in root.iter():
        if local_name(res) != "resource":
            continue
        if not res.get("type", "").startswith(("imsqti_item_xmlv", "imsqti_apipitem_xmlv")):
            continue
        href = res.get("href")
        file_hrefs = [f.get("href", "") for f in res if local_name(f) == "file"]
        href = href or (file_hrefs[0] if file_hrefs else None)
        if href is None:
            errors.append(ItemValidationError(where, None, "resource", "an item resource without href"))
            continue
        safe = [safe_member(h) for h in [href, *file_hrefs]]
        if any(s is None for s in safe):
            errors.append(
                ItemValidationError(
                    where, None, "resource", f"refused resource {res.get('identifier')!r}: a path "
                    "is absolute or leaves the package"
                )
            )
            continue
        meta = next((m for m in res.iter(ctc_tag("item"))), None)
        resources.append(Resource(safe[0], [s for s in safe[1:] if s], meta))  # type: ignore[arg-type]
    if not resources and not errors:
        errors.append(ItemValidationError(where, None, None, "the manifest lists no QTI item resources"))
    return resources, errors


def write_package(files: Mapping[str, bytes], target: Path) -> Path:
    """Write package members to a directory, or to a zip (members sorted) when `target` ends in .zip."""
    if target.suffix.lower() == ".zip":
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for member, data in sorted(files.items()):
                zf.writestr(member, data)
        return target
    for member, data in files.items():
        out = target / member
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    return target
