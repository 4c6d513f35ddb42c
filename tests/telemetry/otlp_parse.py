"""Parses an OTLP/JSON trace file (one TracesData object per line) with the
official OpenTelemetry protobuf definitions (the opentelemetry-proto
package) and protobuf's own JSON parser, after OTLP's documented deviation
from the proto3 JSON mapping is undone: trace and span ids are hex in OTLP,
base64 in proto3 JSON. Unknown fields are errors here (the parser's
default), so every field written must exist in the proto.

Prints one JSON summary line on success; exits 1 naming the line on failure.

    python otlp_parse.py FILE
"""

import base64
import json
import sys

from google.protobuf import json_format
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

ID_BYTES = {"traceId": 16, "spanId": 8, "parentSpanId": 8}


def hex_to_base64(obj, where):
    """Rewrites every hex id of a span (and of its links) as base64."""
    for key, size in ID_BYTES.items():
        if key in obj:
            raw = bytes.fromhex(obj[key])
            if len(raw) != size or raw == bytes(size):
                raise ValueError(f"{where}: {key} {obj[key]!r} is not {size} non-zero bytes")
            obj[key] = base64.b64encode(raw).decode()
    for link in obj.get("links", []):
        hex_to_base64(link, where + " link")


def main(path):
    lines = spans = 0
    kinds = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            doc = json.loads(line)
            for rs in doc["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    for sp in ss["spans"]:
                        hex_to_base64(sp, f"line {n}")
            msg = TracesData()
            try:
                json_format.Parse(json.dumps(doc), msg)
            except json_format.ParseError as e:
                print(f"{path}:{n}: {e}", file=sys.stderr)
                sys.exit(1)
            lines += 1
            for rs in msg.resource_spans:
                for ss in rs.scope_spans:
                    for sp in ss.spans:
                        spans += 1
                        kinds[sp.kind] = kinds.get(sp.kind, 0) + 1
    print(json.dumps({"traces": lines, "spans": spans, "kinds": {str(k): v for k, v in sorted(kinds.items())}}))


if __name__ == "__main__":
    main(sys.argv[1])
