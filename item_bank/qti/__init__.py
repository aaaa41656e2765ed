"""QTI 3.0 content-package export and QTI 3.0 / 2.1 / 2.2 import, lossless for our own items.

``export`` writes the items and the manifest, ``import_`` reads packages (ours and foreign),
``package`` reads and writes the directory or zip safely, ``xml`` holds the shared XML blocks.
Each item type maps its own interaction, response declaration and processing
(``item_bank.types``).
"""

from __future__ import annotations

from item_bank.qti.export import export_qti3
from item_bank.qti.import_ import import_qti
from item_bank.qti.package import MAX_MEMBER_BYTES, MAX_PACKAGE_BYTES
from item_bank.qti.xml import CP_NS, CTC_NS, QTI3_NS

__all__ = [
    "CP_NS",
    "CTC_NS",
    "MAX_MEMBER_BYTES",
    "MAX_PACKAGE_BYTES",
    "QTI3_NS",
    "export_qti3",
    "import_qti",
]
