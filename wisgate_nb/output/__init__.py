"""Notebook output: thumbnails, HTML (built and escaped here only) and live display handles.

Knows nothing of sessions or the network; records and histories are read by their attributes.
"""
