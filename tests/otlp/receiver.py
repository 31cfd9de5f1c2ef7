"""A loopback OTLP/HTTP receiver for tests: saves each request's body and
Content-Type, answers with the status codes given on the command line in turn
(the last one repeats). Usage: receiver.py DIR PORT [STATUS...]; DIR "-" keeps
nothing (for benchmarks)."""
import http.server
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
            with open(os.path.join(out_dir, f"req-{count}.json"), "wb") as f:
                f.write(body)
            with open(os.path.join(out_dir, f"req-{count}.meta"), "w") as f:
                f.write(f"{self.path}\n{self.headers.get('Content-Type')}\n{status}\n")
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
