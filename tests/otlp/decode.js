// Decodes an OTLP/HTTP JSON request (traces or metrics) with the official
// OTLP protobuf definitions (protobufjs code generated from opentelemetry-proto,
// shipped in @opentelemetry/otlp-transformer) and prints it back as proto3 JSON.
// OTLP JSON writes trace and span ids in hex; proto3 JSON wants base64.
// Usage: node decode.js request.json
const fs = require('fs');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');

const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const Request = request.resourceMetrics
  ? root.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest
  : root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
const b64 = (hex) => Buffer.from(hex, 'hex').toString('base64');
for (const rs of request.resourceSpans || [])
  for (const ss of rs.scopeSpans || [])
    for (const span of ss.spans || []) {
      for (const key of ['traceId', 'spanId', 'parentSpanId'])
        if (span[key] !== undefined) {
          if (!/^[0-9a-f]*$/.test(span[key])) throw new Error(`${key} is not lowercase hex: ${span[key]}`);
          span[key] = b64(span[key]);
        }
    }
const bytes = Request.encode(Request.fromObject(request)).finish();
const decoded = Request.toObject(Request.decode(bytes), {longs: String, enums: Number, bytes: String, defaults: false});
for (const rs of decoded.resourceSpans || [])
  for (const ss of rs.scopeSpans || [])
    for (const span of ss.spans || [])
      for (const key of ['traceId', 'spanId', 'parentSpanId'])
        if (span[key]) span[key] = Buffer.from(span[key], 'base64').toString('hex');
// fromObject drops what the schema does not know and coerces what it does:
// the round trip must give back exactly what was sent (defaults aside).
const normal = (v) => {
  if (Array.isArray(v)) return v.map(normal);
  if (v && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) {
      const n = normal(v[k]);
      if (n === 0 || n === '' || n === '0' || (Array.isArray(n) && !n.length) ||
          (n && typeof n === 'object' && !Object.keys(n).length)) continue;
      out[k] = n;
    }
    return out;
  }
  return v;
};
const sent = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
if (JSON.stringify(normal(sent)) !== JSON.stringify(normal(decoded))) {
  process.stderr.write('sent:    ' + JSON.stringify(normal(sent)) + '\ndecoded: ' + JSON.stringify(normal(decoded)) + '\n');
  process.exit(1);
}
process.stdout.write(JSON.stringify(decoded));
