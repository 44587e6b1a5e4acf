// A minimal OTLP/HTTP trace receiver for tests: decodes what the gateway sends with the official
// OpenTelemetry JavaScript classes (the protobufjs code @opentelemetry/otlp-transformer generates
// from opentelemetry-proto) and writes every span as one JSON line.
//
//   node otlp_receiver.mjs --out FILE [--port N] [--status CODE] [--hang]
//
// Listens on 127.0.0.1 (port 0: the kernel's choice) and prints `listening PORT` once ready.
// POST /v1/traces with Content-Type application/x-protobuf: each span is appended to FILE as
// {resource, scope, traceId, spanId, parentSpanId, traceState, name, kind, startTimeUnixNano,
// endTimeUnixNano, flags, attributes, events, links, status} with ids in lower-case hex, enum
// values by name, 64-bit integers as decimal strings and attributes as {key: value} where value
// is {string|int|double|bool|array: ...}; the answer is 200 with an empty
// ExportTraceServiceResponse. --status answers that code instead (nothing stored), --hang reads
// the request and never answers. A body that does not decode is answered 400 and logged.
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const root = require("@opentelemetry/otlp-transformer/build/src/generated/root.js");
const { ExportTraceServiceRequest, ExportTraceServiceResponse } =
  root.opentelemetry.proto.collector.trace.v1;
const { Span, Status } = root.opentelemetry.proto.trace.v1;

function parseArgs(argv) {
  const args = { port: 0, status: 200, hang: false, out: "" };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === "--port") args.port = Number(argv[++i]);
    else if (a === "--status") args.status = Number(argv[++i]);
    else if (a === "--hang") args.hang = true;
    else if (a === "--out") args.out = argv[++i];
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.out) throw new Error("--out FILE is required");
  return args;
}

const hex = (bytes) => Buffer.from(bytes ?? []).toString("hex");
const long = (v) => (v === undefined || v === null ? "0" : v.toString());

function anyValue(v) {
  if (!v) return null;
  switch (v.value) {
    case "stringValue": return { string: v.stringValue };
    case "boolValue": return { bool: v.boolValue };
    case "intValue": return { int: long(v.intValue) };
    case "doubleValue": return { double: v.doubleValue };
    case "arrayValue": return { array: (v.arrayValue.values ?? []).map(anyValue) };
    case "kvlistValue": return { kvlist: attributes(v.kvlistValue.values) };
    case "bytesValue": return { bytes: hex(v.bytesValue) };
    default: return null;
  }
}

// Attributes as an object; a repeated key is kept as a list so a test can see it.
function attributes(list) {
  const out = {};
  for (const kv of list ?? []) {
    const value = anyValue(kv.value);
    if (Object.hasOwn(out, kv.key)) {
      out[kv.key] = [].concat(out[kv.key], [value]);
    } else {
      out[kv.key] = value;
    }
  }
  return out;
}

function spanRecords(request) {
  const records = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      const scope = { name: ss.scope?.name ?? "", version: ss.scope?.version ?? "" };
      for (const s of ss.spans ?? []) {
        records.push({
          resource,
          scope,
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          traceState: s.traceState ?? "",
          name: s.name ?? "",
          kind: Span.SpanKind[s.kind ?? 0],
          startTimeUnixNano: long(s.startTimeUnixNano),
          endTimeUnixNano: long(s.endTimeUnixNano),
          flags: s.flags ?? 0,
          attributes: attributes(s.attributes),
          events: (s.events ?? []).map((e) => ({
            name: e.name ?? "",
            timeUnixNano: long(e.timeUnixNano),
            attributes: attributes(e.attributes),
          })),
          links: (s.links ?? []).map((l) => ({
            traceId: hex(l.traceId),
            spanId: hex(l.spanId),
            traceState: l.traceState ?? "",
            flags: l.flags ?? 0,
            attributes: attributes(l.attributes),
          })),
          status: {
            code: Status.StatusCode[s.status?.code ?? 0],
            message: s.status?.message ?? "",
          },
        });
      }
    }
  }
  return records;
}

const args = parseArgs(process.argv.slice(2));
fs.writeFileSync(args.out, "");

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    if (args.hang) return; // never answers; the client's timeout ends it
    if (req.method !== "POST" || req.url !== "/v1/traces") {
      res.writeHead(404).end();
      return;
    }
    if (args.status !== 200) {
      res.writeHead(args.status).end();
      return;
    }
    if (req.headers["content-type"] !== "application/x-protobuf") {
      res.writeHead(415).end();
      return;
    }
    let request;
    try {
      request = ExportTraceServiceRequest.decode(Buffer.concat(chunks));
    } catch (e) {
      console.error(`otlp_receiver: cannot decode: ${e.message}`);
      res.writeHead(400).end();
      return;
    }
    const lines = spanRecords(request).map((r) => JSON.stringify(r) + "\n");
    fs.appendFileSync(args.out, lines.join(""));
    const body = ExportTraceServiceResponse.encode(ExportTraceServiceResponse.create()).finish();
    res.writeHead(200, { "content-type": "application/x-protobuf" }).end(Buffer.from(body));
  });
});

server.listen(args.port, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
