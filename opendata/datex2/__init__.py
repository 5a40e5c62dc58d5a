"""DATEX II v3.7 parking publications: the loading zones as a table and their live status.

A zone is a `prk:Place`, each of its bays a `prk:Space` (id "<zone>/<bay label>"); the static
table says where they are and when they are loading zones, the status publication how many
bays are free now. Both are built from `booking.live.ZoneNow` only, so nothing personal (plates,
accounts, booking codes, reservation ids) can reach them. Where booking withholds the live
figures, the status says "unknown" with a fault instead of inventing numbers.
"""

from __future__ import annotations

from opendata.datex2.elements import COM, D2, FAC, LOC, LOCX, MEDIA_TYPE, NSMAP, PRK, XSI
from opendata.datex2.status import parking_status
from opendata.datex2.table import (
    TABLE_ID,
    TableReference,
    parking_table,
    record_version,
    table_reference,
)

__all__ = [
    "COM",
    "D2",
    "FAC",
    "LOC",
    "LOCX",
    "MEDIA_TYPE",
    "NSMAP",
    "PRK",
    "TABLE_ID",
    "XSI",
    "TableReference",
    "parking_status",
    "parking_table",
    "record_version",
    "table_reference",
]
