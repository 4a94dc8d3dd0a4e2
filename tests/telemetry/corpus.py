"""Bad telemetry messages, each with the reason it must be refused for. The MQTT subscriber keeps
each one as a malformed record with that reason, the HTTP endpoint answers a 4xx naming it; none
may stop the good messages around it (tests/telemetry/test_poison_messages.py)."""

import json

# (reading fields as JSON text, the reason's words). Text, not dicts: the escapes (\u0000, a lone
# \ud800) and the huge integers are what devices send on the wire.
BAD_READINGS = [
    ('{"energy_wh_total": 5, "boot_id": "a\\u0000b"}', "boot_id contains a NUL character"),
    ('{"energy_wh_total": 5, "switch_state": "on\\u0000"}', "switch_state contains a NUL character"),
    ('{"energy_wh_total": 5, "boot_id": "\\ud800"}', "boot_id is not valid Unicode"),
    ('{"energy_wh_total": 5, "switch_state": "\\udfff"}', "switch_state is not valid Unicode"),
    (json.dumps({"energy_wh_total": 5, "switch_state": "x" * 17}), "switch_state is longer than 16 characters"),
    (json.dumps({"energy_wh_total": 5, "boot_id": "b" * 65}), "boot_id is longer than 64 characters"),
    (json.dumps({"energy_wh_total": 5, "switch_state": {"on": True}}), "switch_state must be text"),
    (json.dumps({"energy_wh_total": 2**63 - 1}), "energy_wh_total is too large"),
    (json.dumps({"energy_wh_total": 10**12 + 1}), "energy_wh_total is too large"),
    ('{"energy_wh_total": 1e300}', "energy_wh_total is too large"),
    (json.dumps({"energy_wh_total": 5, "seq": 2**70}), "seq is out of range"),
    (json.dumps({"energy_wh_total": 5, "ts": 0}), "is before 2000-01-01"),
    (json.dumps({"energy_wh_total": 5, "ts": "1970-01-01T00:00:00+00:00"}), "is before 2000-01-01"),
    (json.dumps({"energy_wh_total": 5, "ts": "0001-01-01T00:00:00+05:00"}), "is before 2000-01-01"),
    (json.dumps({"energy_wh_total": 5, "ts": "0001-01-01T00:00:00"}), "is before 2000-01-01"),
    (json.dumps({"energy_wh_total": 5, "ts": "9999-12-31T23:59:59"}), "more than a day after"),
    (json.dumps({"energy_wh_total": 5, "ts": "9999-12-31T23:59:59-12:00"}), "more than a day after"),
    (json.dumps({"energy_wh_total": "5"}), "energy_wh_total must be a number"),
    (json.dumps({"energy_wh_total": 5, "ts": {"at": 1}}), "ts must be a number"),
]

# Whole payloads (bodies) that are not a reading at all: (bytes, the reason's words).
BAD_PAYLOADS = [
    (b"[" * 100_000, "nested too deeply"),
    (b'{"energy_wh_total": 5}\x00', "not JSON"),
    (b'{"energy_wh_total": 5, "boot_id": "\xff\xfe"}', "not JSON"),
]
