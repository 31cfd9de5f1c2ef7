// SPDX-License-Identifier: Apache-2.0
// Decodes an OTLP/HTTP request (traces or metrics) with the official OTLP
// protobuf definitions (protobufjs code generated from opentelemetry-proto,
// shipped in @opentelemetry/otlp-transformer) and prints it as OTLP JSON
// (proto3 JSON with hex trace and span ids).
// Usage: node decode.js request.json          an http/json body
//        node decode.js --protobuf traces|metrics request.bin
//                                             an http/protobuf body
// Either way the decoding must account for every byte sent: a JSON body must
// come back whole from the definitions, and a protobuf body, re-encoded, must
// give back the same bytes (no field unknown to the definitions, none lost).
const fs = require('fs');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');
const v1 = root.opentelemetry.proto.collector;

const args = process.argv.slice(2);
const protobuf = args[0] === '--protobuf';
const file = protobuf ? args[2] : args[0];
const fail = (message) => {
  process.stderr.write(message + '\n');
  process.exit(1);
};

const eachSpan = (request, f) => {
  for (const rs of request.resourceSpans || [])
    for (const ss of rs.scopeSpans || [])
      for (const span of ss.spans || []) f(span);
};
const idKeys = ['traceId', 'spanId', 'parentSpanId'];
const asObject = (Request, message) => {
  const decoded = Request.toObject(message, {longs: String, enums: Number, bytes: String, defaults: false});
  eachSpan(decoded, (span) => {
    for (const key of idKeys)
      if (span[key]) span[key] = Buffer.from(span[key], 'base64').toString('hex');
  });
  return decoded;
};

if (protobuf) {
  const Request = args[1] === 'metrics' ? v1.metrics.v1.ExportMetricsServiceRequest
                                        : v1.trace.v1.ExportTraceServiceRequest;
  const bytes = fs.readFileSync(file);
  let message;
  try {
    message = Request.decode(bytes);
  } catch (e) {
    fail('not a valid ' + Request.name + ': ' + e.message);
  }
  const again = Buffer.from(Request.encode(message).finish());
  if (!again.equals(bytes))
    fail(`re-encoded, the request differs from what was sent (${again.length} bytes, sent ${bytes.length}):\n` +
         `sent:       ${bytes.toString('hex')}\nre-encoded: ${again.toString('hex')}`);
  process.stdout.write(JSON.stringify(asObject(Request, message)));
  process.exit(0);
}

const request = JSON.parse(fs.readFileSync(file, 'utf8'));
const Request = request.resourceMetrics ? v1.metrics.v1.ExportMetricsServiceRequest
                                        : v1.trace.v1.ExportTraceServiceRequest;
// OTLP JSON writes trace and span ids in hex; proto3 JSON wants base64.
eachSpan(request, (span) => {
  for (const key of idKeys)
    if (span[key] !== undefined) {
      if (!/^[0-9a-f]*$/.test(span[key])) fail(`${key} is not lowercase hex: ${span[key]}`);
      span[key] = Buffer.from(span[key], 'hex').toString('base64');
    }
});
const bytes = Request.encode(Request.fromObject(request)).finish();
const decoded = asObject(Request, Request.decode(bytes));
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
const sent = JSON.parse(fs.readFileSync(file, 'utf8'));
if (JSON.stringify(normal(sent)) !== JSON.stringify(normal(decoded)))
  fail('sent:    ' + JSON.stringify(normal(sent)) + '\ndecoded: ' + JSON.stringify(normal(decoded)));
process.stdout.write(JSON.stringify(decoded));
