# SPDX-License-Identifier: Apache-2.0
"""A loopback OTLP/HTTP receiver for tests: saves each request's body
(gunzipped when sent with Content-Encoding: gzip; the raw body then in
req-N.gz) as req-N.body and, in req-N.meta, its path, Content-Type, the status
answered and its headers as JSON; answers with the status codes given on the
command line in turn (the last one repeats).

Usage: receiver.py DIR PORT [--tls CERT KEY [CLIENT_CA]] [STATUS...]
DIR "-" keeps nothing (for benchmarks). With --tls it speaks https with the
given certificate and key; with CLIENT_CA it also requires a client
certificate signed by that CA."""
import gzip
import http.server
import json
import os
import ssl
import sys

args = sys.argv[1:]
out_dir, port = args[0], int(args[1])
args = args[2:]
tls = None
if args and args[0] == "--tls":
    client_ca = args[3] if len(args) > 3 and not args[3].isdigit() else None
    tls = (args[1], args[2], client_ca)
    args = args[4 if client_ca else 3:]
statuses = [int(s) for s in args] or [200]
count = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status = statuses[min(count, len(statuses) - 1)]
        if out_dir != "-":
            if self.headers.get("Content-Encoding") == "gzip":
                with open(os.path.join(out_dir, f"req-{count}.gz"), "wb") as f:
                    f.write(body)
                body = gzip.decompress(body)
            with open(os.path.join(out_dir, f"req-{count}.meta"), "w") as f:
                f.write(f"{self.path}\n{self.headers.get('Content-Type')}\n{status}\n")
                f.write(json.dumps({k.lower(): v for k, v in self.headers.items()}) + "\n")
            # The body file appears last, whole: tests count requests by it.
            body_file = os.path.join(out_dir, f"req-{count}.body")
            with open(body_file + ".tmp", "wb") as f:
                f.write(body)
            os.rename(body_file + ".tmp", body_file)
        count += 1
        self.send_response(status)
        self.send_header("Content-Type", self.headers.get("Content-Type") or "application/json")
        self.end_headers()
        # An empty Export*ServiceResponse, in the request's encoding.
        self.wfile.write(b"" if "protobuf" in (self.headers.get("Content-Type") or "") else b"{}")

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", port), Handler)
if tls:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls[0], tls[1])
    if tls[2]:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(tls[2])
    server.socket = context.wrap_socket(server.socket, server_side=True)
if out_dir != "-":
    with open(os.path.join(out_dir, "ready"), "w") as f:
        f.write("ok")
server.serve_forever()
