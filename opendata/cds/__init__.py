"""Curb Data Specification 1.1: Curbs, Events and Metrics objects from the booking domain.

Pure functions returning JSON-ready dicts (the api layer serves them, wrapped by `envelope`).
Times are integer epoch milliseconds, lengths centimetres, ids UUIDs derived deterministically
from our own ids. Open feeds carry no personal data: nothing here reads reservations, plates,
accounts or booking codes; a bay only says whether it is available.
"""

from __future__ import annotations

from opendata.cds.curbs import (
    CDS_DAYS,
    curb_policy,
    curb_space,
    curb_spaces,
    curb_zone,
    policy_id,
    time_spans,
    unique_policies,
    zone_end,
)
from opendata.cds.events import EVENT_TYPES, curb_event, curb_events
from opendata.cds.geometry import KERB_WIDTH_M, space_geometry, zone_geometry
from opendata.cds.ids import (
    CSV_MEDIA_TYPE,
    CUSTOM_ATTRIBUTES,
    LICENSE_URL,
    MEDIA_TYPE,
    NAMESPACE,
    SPACE,
    VERSION,
    ZONE,
    QueryError,
    dataset_time_zone,
    device_uuid,
    envelope,
    event_uuid,
    from_ms,
    ms,
    space_uuid,
    zone_uuid,
)
from opendata.cds.metrics import (
    AGGREGATE_COLUMNS,
    METRIC_TYPES,
    OFFLINE,
    Interval,
    aggregates,
    to_csv,
)
from opendata.cds.queries import (
    T,
    by_place,
    event_time_window,
    location_query,
    valid_at,
    within_bbox,
    within_radius,
)
from opendata.cds.sessions import PARKING, SESSION_COLUMNS, session_metrics

__all__ = [
    "AGGREGATE_COLUMNS",
    "CDS_DAYS",
    "CSV_MEDIA_TYPE",
    "CUSTOM_ATTRIBUTES",
    "EVENT_TYPES",
    "KERB_WIDTH_M",
    "LICENSE_URL",
    "MEDIA_TYPE",
    "METRIC_TYPES",
    "NAMESPACE",
    "OFFLINE",
    "PARKING",
    "SESSION_COLUMNS",
    "SPACE",
    "VERSION",
    "ZONE",
    "Interval",
    "QueryError",
    "T",
    "aggregates",
    "by_place",
    "curb_event",
    "curb_events",
    "curb_policy",
    "curb_space",
    "curb_spaces",
    "curb_zone",
    "dataset_time_zone",
    "device_uuid",
    "envelope",
    "event_time_window",
    "event_uuid",
    "from_ms",
    "location_query",
    "ms",
    "policy_id",
    "session_metrics",
    "space_geometry",
    "space_uuid",
    "time_spans",
    "to_csv",
    "unique_policies",
    "valid_at",
    "within_bbox",
    "within_radius",
    "zone_end",
    "zone_geometry",
    "zone_uuid",
]
