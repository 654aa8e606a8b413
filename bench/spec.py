"""The benchmark's dataset rules: the single source every tool's checks are built from.

Each column is (name, type, nullable, constraints). The greenpipe contract (YAML), the pandera schema,
the pyarrow checks and the polars expressions are all derived from COLUMNS, so they express the same
rules by construction:

- type: int / float / bool / date / timestamp / string. A non-null value must parse as that type.
  Valid data in the generated file only uses one spelling per type (ints `-?[0-9]+`, floats `-?[0-9]+.[0-9]+`,
  bools `true`/`false`, dates `YYYY-MM-DD`, timestamps `YYYY-MM-DDTHH:MM:SSZ`), so tools that accept
  more spellings (greenpipe accepts several RFC 3339 forms, for instance) still agree.
- nullable: an empty field is null; a null in a non-nullable column is a violation.
- min / max: inclusive, on the parsed value (numbers; dates compared as dates).
- allowed: the value must be one of these strings.
- regex: the whole value must match.

No uniqueness rule (the peers would need the whole column in memory for it, and greenpipe's bounded
uniqueness set is a separate feature).
"""

from __future__ import annotations

COUNTRIES = ["US", "DE", "FR", "GB", "JP", "IN", "BR", "CA"]
STATUSES = ["active", "inactive", "pending", "banned"]
CHANNELS = ["web", "mobile", "store"]
SKU_REGEX = "[A-Z]{3}-[0-9]{4}"
DATE_MIN = "2000-01-01"
DATE_MAX = "2030-12-31"

# name, type, nullable, extra constraints
COLUMNS: list[dict] = [
    {"name": "id", "type": "int", "nullable": False, "min": 1},
    {"name": "user_id", "type": "int", "nullable": False, "min": 0, "max": 10_000_000},
    {"name": "age", "type": "int", "nullable": True, "min": 0, "max": 120},
    {"name": "quantity", "type": "int", "nullable": False, "min": 1, "max": 1000},
    {"name": "price", "type": "float", "nullable": False, "min": 0.0, "max": 100000.0},
    {"name": "discount", "type": "float", "nullable": True, "min": 0.0, "max": 1.0},
    {"name": "score", "type": "float", "nullable": False, "min": -1000.0, "max": 1000.0},
    {"name": "latitude", "type": "float", "nullable": True, "min": -90.0, "max": 90.0},
    {"name": "sku", "type": "string", "nullable": False, "regex": SKU_REGEX},
    {"name": "country", "type": "string", "nullable": False, "allowed": COUNTRIES},
    {"name": "status", "type": "string", "nullable": False, "allowed": STATUSES},
    {"name": "channel", "type": "string", "nullable": True, "allowed": CHANNELS},
    {"name": "name", "type": "string", "nullable": False},
    {"name": "email", "type": "string", "nullable": True},
    {"name": "is_active", "type": "bool", "nullable": False},
    {"name": "verified", "type": "bool", "nullable": True},
    {"name": "signup_date", "type": "date", "nullable": False, "min": DATE_MIN, "max": DATE_MAX},
    {"name": "last_login", "type": "timestamp", "nullable": True},
    {"name": "event_time", "type": "timestamp", "nullable": False},
    {"name": "comment", "type": "string", "nullable": True},
]

NAMES = [c["name"] for c in COLUMNS]
BY_NAME = {c["name"]: c for c in COLUMNS}

# Spellings the peers accept for the non-string types (greenpipe's own parsers accept at least these).
BOOL_TRUE = ["true", "True", "TRUE"]
BOOL_FALSE = ["false", "False", "FALSE"]
DATE_FORMAT = "%Y-%m-%d"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
INT_REGEX = r"^[+-]?[0-9]+$"
FLOAT_REGEX = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"

# The kinds of bad cell the generator plants: (kind, column, bad value or None for null). Each bad row
# has exactly one bad cell, and each bad cell breaks exactly one rule, so "rows with >= 1 violation",
# "violating cells" and "rule failures" are the same number for every tool.
BAD_KINDS: list[tuple[str, str, str | None]] = [
    ("out_of_range_min", "user_id", "-17"),
    ("out_of_range_max", "age", "150"),
    ("unparsable_int", "quantity", "12x"),
    ("unparsable_float", "price", "12.3.4"),
    ("out_of_range_float", "discount", "1.5"),
    ("null_in_non_nullable_float", "score", None),
    ("pattern_break", "sku", "AB-12345"),
    ("disallowed_category", "country", "XX"),
    ("disallowed_status", "status", "deleted"),
    ("null_in_non_nullable_string", "name", None),
    ("not_a_bool", "is_active", "maybe"),
    ("unparsable_date", "signup_date", "2023-13-05"),
    ("date_before_min", "signup_date", "1999-12-31"),
    ("unparsable_timestamp", "last_login", "2024-06-15T25:00:00Z"),
    ("null_in_non_nullable_timestamp", "event_time", None),
]


def contract_yaml(name: str = "bench") -> str:
    """The greenpipe contract for COLUMNS (YAML, format of shared/src/contract/mod.rs)."""
    import json

    lines = [
        f"name: {name}",
        "version: \"1\"",
        "format:",
        "  type: csv",
        "  delimiter: \",\"",
        "  header: true",
        "compression: none",
        "columns:",
    ]
    for c in COLUMNS:
        lines.append(f"  - name: {c['name']}")
        lines.append(f"    type: {c['type']}")
        lines.append(f"    nullable: {'true' if c['nullable'] else 'false'}")
        for key in ("min", "max"):
            if key in c:
                lines.append(f"    {key}: {json.dumps(c[key])}")
        if "allowed" in c:
            lines.append(f"    allowed: {json.dumps(c['allowed'])}")
        if "regex" in c:
            lines.append(f"    regex: {json.dumps(c['regex'])}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(contract_yaml(), end="")
