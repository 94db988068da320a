"""An OpenAI-compatible images server that draws deterministic procedural pictures, offline.

Used in-process for demo mode (``transport.StreamingASGITransport(create_app())``, which streams
partial images as they are drawn: no port, no key, no network), on a loopback port in tests
(``with serve() as srv: ... srv.base_url``) and from the command line (``wisgate-nb emulator`` calls :func:`run`).

Routes: ``POST /v1/images/generations`` (JSON), ``POST /v1/images/edits`` (multipart ``image`` /
``image[]`` / ``image[0]`` + ``mask``, or JSON with data: URLs), both streaming with ``stream=true``;
``GET /v1/models``; ``GET /v1/demo-files/{name}`` (images asked for with ``response_format="url"``).

Answers follow the OpenAI Images API: ``quality`` and ``background`` are echoed as used ("auto" and
"standard" -> "medium", "hd" -> "high"; background "auto" -> "opaque"), ``size="auto"`` is 1024x1024
(an edit without ``size`` keeps its input's size), every JSON answer has ``usage`` and every response
``x-request-id``. A stream sends, for each of the n images in turn, its partial images then its
completed event, spread evenly over the latency; every completed event carries the usage of the
whole request.

Fault kinds for :meth:`Emulator.schedule` (one per following /images/* request, FIFO):

    status              the error envelope with Fault.status (429: rate_limit_exceeded), Retry-After if set
    drop                a 200 JSON body cut in the middle: the connection closes
    slow                Fault.delay seconds before the headers (read timeouts), then a normal answer
    slow_body           headers at once, then the body (or the stream) spread over Fault.delay seconds
    html                an nginx-style HTML error page (502 unless Fault.status says otherwise)
    bad_json            200 application/json that is not JSON
    no_images           200 with "data": []
    truncated_b64       200 whose b64_json is cut in the middle (not valid base64)
    undecodable         200 whose b64_json is valid base64 of bytes that are not an image
    bomb                200 with a 110 KB PNG that declares 30000x30000 pixels
    huge                200 with a Content-Length of Fault.size_mb MiB, streamed from one buffer
    url_404             200 with {"url": <this server>/v1/demo-files/missing.png}, which 404s
    url_scheme          200 with {"url": "file:///etc/passwd"}
    stream_no_complete  an event stream of partial images that ends without a completed event
    stream_error        one partial image, then "event: error" with the error envelope
    quota               429 insufficient_quota with x-should-retry: false (a used-up quota or balance)

status, html, drop, bad_json, huge and quota answer before the request is validated; the others apply to
a request that passed validation (an invalid request still uses up its fault). Requests refused
with 401 use up no fault. Faults answer without the configured latency (plus their own delay).

Proxy behaviours (EmulatorConfig fields; ``EmulatorConfig(**PROXY)`` for the usual set, see proxy.py):
another request-id header or none, error codes rewritten to the status, no Retry-After, streamed
requests answered 500 after being drawn, a cooldown after upstream failures, a quota of images.
``Emulator.generations`` counts the requests the upstream drew images for: what a real API bills.
"""

from __future__ import annotations

from .app import create_app
from .server import ServerHandle, run, serve
from .state import FAULT_KINDS, PROXY, Emulator, EmulatorConfig, Fault, RecordedRequest

__all__ = [
    "FAULT_KINDS",
    "PROXY",
    "Emulator",
    "EmulatorConfig",
    "Fault",
    "RecordedRequest",
    "ServerHandle",
    "create_app",
    "run",
    "serve",
]
