"""A stand-in for a student's single-user server, spawned by the real JupyterHub in test_gateway_hub.py.

It answers HTTP on the port the hub gave it (so the hub counts it as started) and, in a thread, does
what a student's notebook does with the README's JupyterHub configuration: wisgate_nb with
WISGATE_HUB_AUTH=1 and WISGATE_BASE_URL from the spawner's environment, through the hub's proxy.
"""

import http.server
import json
import os
import threading
from urllib.parse import urlsplit


class _Up(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"probe")

    def log_message(self, *args):
        pass


def _work(out: str) -> None:
    result = {}
    try:
        import wisgate_nb
        from wisgate_nb.gateway import quota_left

        g = wisgate_nb.generate("a fox drawn from a student's server", size="256x256")
        result.update(ok=True, images=len(g.images), request_id=g.request_id)
        left = quota_left(os.environ["WISGATE_BASE_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
        result["quota"] = None if left is None else left.text
    except Exception as exc:  # reported to the test, which fails with it
        result.update(ok=False, error=f"{type(exc).__name__}: {exc}")
    with open(out + ".tmp", "w") as fh:
        json.dump(result, fh)
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    where = urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"])
    out = os.path.join(os.environ["WISGATE_PROBE_DIR"], os.environ["JUPYTERHUB_USER"] + ".json")
    threading.Thread(target=_work, args=(out,), daemon=True).start()
    http.server.ThreadingHTTPServer((where.hostname, where.port), _Up).serve_forever()
