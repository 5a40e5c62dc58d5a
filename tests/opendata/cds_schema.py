"""Validate instances against the CDS 1.1 OpenAPI YAML, resolving the $refs between its files.

Every YAML file becomes a JSON Schema 2020-12 resource in a `referencing.Registry`, keyed by
its file URI, so "../Shared Data Models/x.yaml" refs resolve as they do on disk.

The published geometry models are defective, so by default three of them are corrected
(ERRATA); `registry(errata=False)` gives the files exactly as published:

- coordinates.yaml (a Polygon's coordinates) is one flat list of [x, y] pairs, whereas CDS's
  own general-information.md and RFC 7946 3.1.6 make it a list of linear rings. A real
  GeoJSON Polygon fails it ("is too long", "is not of type 'number'").
- curb_zone.geometry is oneOf Polygon/LineString, but neither model pins its `type`, and every
  instance of the (flat) Polygon model is also a LineString: no two-dimensional geometry can
  ever pass that oneOf ("is valid under each of").
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

REPO = Path(__file__).resolve().parents[2]
CDS = REPO.parent / "shared" / "standards" / "cds-1.1"
FOLDERS = ("APIs", "Shared Data Models", "Rest Responses")

_POSITION = {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "number"}}
# Corrections as (file, JSON path of the key to set, value), applied to a copy of the YAML.
ERRATA: tuple[tuple[str, tuple[str, ...], Any], ...] = (
    (
        "Shared Data Models/coordinates.yaml",
        ("items",),
        {"type": "array", "minItems": 4, "items": _POSITION},  # RFC 7946: a linear ring
    ),
    ("Shared Data Models/geoJSON_polygon.yaml", ("properties", "type", "const"), "Polygon"),
    ("Shared Data Models/geoJSON_linestring.yaml", ("properties", "type", "const"), "LineString"),
)


def file_uri(path: Path) -> str:
    """The URI a file is registered under; spaces kept raw, as relative $refs resolve to them."""
    return "file://" + str(path.resolve())


def load(relative: str, *, errata: bool = True) -> Any:
    """One CDS YAML file (relative to the cds-1.1 folder), corrected unless errata=False."""
    contents = yaml.safe_load((CDS / relative).read_text("utf-8"))
    if not errata:
        return contents
    for name, keys, value in ERRATA:
        if name == relative:
            contents = copy.deepcopy(contents)
            target = contents
            for key in keys[:-1]:
                target = target[key]
            target[keys[-1]] = value
    return contents


@cache
def registry(*, errata: bool = True) -> Registry:
    """Every CDS YAML file as a JSON Schema 2020-12 resource, keyed by its file URI."""
    resources: list[tuple[str, Resource[Any]]] = []
    for folder in FOLDERS:
        for path in sorted((CDS / folder).glob("*.yaml")):
            contents = load(f"{folder}/{path.name}", errata=errata)
            resource = DRAFT202012.create_resource(contents)
            # Register the raw and the percent-encoded URI: urljoin keeps "Shared Data Models"
            # raw when a relative $ref is resolved, Path.as_uri() encodes it.
            resources += [(file_uri(path), resource), (path.resolve().as_uri(), resource)]
    return Registry().with_resources(resources)


def model_uri(name: str) -> str:
    """URI of a shared data model, e.g. "curb_zone"."""
    return file_uri(CDS / "Shared Data Models" / f"{name}.yaml")


def response_uri(
    api: str, path: str, *, status: str = "200", media: str = "application/json"
) -> str:
    """URI (with JSON pointer) of the response schema of GET `path` in "<api> API.yaml"."""
    escaped = [p.replace("~", "~0").replace("/", "~1") for p in (path, media)]
    pointer = "/".join(["paths", escaped[0], "get", "responses", status, "content", escaped[1]])
    return file_uri(CDS / "APIs" / f"{api} API.yaml") + "#/" + pointer + "/schema"


def validator(uri: str, *, errata: bool = True) -> Draft202012Validator:
    """A validator (with format checks, e.g. uuid and date) for the schema at `uri`."""
    return Draft202012Validator(
        {"$ref": uri},
        registry=registry(errata=errata),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def errors(uri: str, instance: Any, *, errata: bool = True) -> list[ValidationError]:
    """All validation errors of `instance` against the schema at `uri`."""
    found = validator(uri, errata=errata).iter_errors(instance)
    return sorted(found, key=lambda e: [str(p) for p in e.absolute_path])


def check_model(name: str, instance: Any) -> None:
    """Raise AssertionError listing every way `instance` breaks the shared data model."""
    _raise(name, errors(model_uri(name), instance))


def check_response(api: str, path: str, document: Any, *, media: str = "application/json") -> None:
    """Raise AssertionError listing every way `document` breaks GET `path`'s 200 response."""
    _raise(f"{api} GET {path}", errors(response_uri(api, path, media=media), document))


def _raise(what: str, found: list[ValidationError]) -> None:
    """AssertionError with the first errors, if there are any."""
    if found:
        lines = [f"{list(e.absolute_path)}: {e.message[:300]}" for e in found[:20]]
        raise AssertionError(f"{what}: {len(found)} error(s)\n" + "\n".join(lines))
