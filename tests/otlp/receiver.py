"""A loopback OTLP/HTTP receiver for tests: saves each request's body
(gunzipped when sent with Content-Encoding: gzip; the raw body then in
req-N.gz) and, in req-N.meta, its path, Content-Type, the status answered and
its headers as JSON; answers with the status codes given on the command line
in turn (the last one repeats). Usage: receiver.py DIR PORT [STATUS...]; DIR
"-" keeps nothing (for benchmarks)."""
import gzip
import http.server
import json
import os
import sys

out_dir, port = sys.argv[1], int(sys.argv[2])
statuses = [int(s) for s in sys.argv[3:]] or [200]
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
            # The .json file appears last, whole: tests count requests by it.
            body_file = os.path.join(out_dir, f"req-{count}.json")
            with open(body_file + ".tmp", "wb") as f:
                f.write(body)
            os.rename(body_file + ".tmp", body_file)
        count += 1
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", port), Handler)
if out_dir != "-":
    with open(os.path.join(out_dir, "ready"), "w") as f:
        f.write("ok")
server.serve_forever()
