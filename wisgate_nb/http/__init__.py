"""HTTP only: the async client of the images API, its pure wire rules and the image checks.

    client.py   ImagesClient: the one send loop, retries, streaming, error translation
    wire.py     pure rules: retry delays, error mapping, body parsing
    images.py   decoding and checking images; preparing uploads
    checks.py   the client's settings checked (no httpx import, so it is cheap to call early)

Knows nothing of Jupyter, sessions or the history. Importing this package imports nothing heavy;
import the module you need.
"""
