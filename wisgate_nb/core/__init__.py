"""Requests, the engine and the session: what happens between a front door and the network.

    requests.py   Request and build_request: every check before anything is sent
    targets.py    where a request goes (URL, key, demo, profile)
    inputs.py     an edit's images and mask
    plans.py      templates, streams, sweeps and dry runs for every front door
    engine.py     the one background thread with its event loop; Jobs
    recording.py  how each request ends in the history
    session.py    the wiring: one Session per kernel
    profiles.py   named settings from pyproject.toml / wisgate_nb.toml
    doctor.py     %wisgate_doctor's findings
"""
