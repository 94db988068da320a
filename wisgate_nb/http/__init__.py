"""HTTP only: the async client of the images API, its pure wire rules and the image checks.

    client.py   ImagesClient: the one send loop, retries, the streaming fallback, error translation
    attempt.py  one attempt of that loop: what it learned, and the reading of an event stream
    wire.py     pure rules: retry delays, error mapping, body parsing, when a stream falls back
    messages.py pure reading of what servers and proxies say: request-id headers, error text quoted short
    bodies.py   reading bodies under caps
    images.py   decoding and checking images; preparing uploads
    checks.py   the client's settings checked (no httpx import, so it is cheap to call early)

Knows nothing of Jupyter, sessions or the history. Importing this package imports nothing heavy;
import the module you need.
"""
