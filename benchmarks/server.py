"""The demo server in its own process, steered over stdin.

The server runs in a child process so that its drawing and JSON encoding do not share the GIL
(and the CPU time) with the clients being measured. Each distinct picture is drawn and encoded
once and then served from memory: the benchmarks measure clients, not the demo server's drawing
(an incompressible 1024x1024 PNG takes it about half a second to encode).

Protocol: the child prints ``{"base_url": ...}`` when it listens, then reads one JSON object per
line (``{"latency": 1.0, "noise": true}``; ``"pure_noise": true`` for pure-noise pictures), applies it,
forgets recorded requests and answers ``{"ok": true, "requests": N}``. End of input stops it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self

from benchmarks.common import REPO, child_env


class DemoServer:
    """A handle on the child process running the demo server on 127.0.0.1."""

    def __init__(self) -> None:
        # The server's log (requests cancelled at shutdown, after B8's interrupts) goes to a file,
        # shown only if the server does not start.
        self._log = tempfile.TemporaryFile(mode="w+")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.server"], cwd=REPO, env=child_env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1,
        )
        line = self._proc.stdout.readline()
        if not line:
            self.close()
            self._log.seek(0)
            raise RuntimeError(f"the demo server process did not start: {self._log.read()[-2000:]}")
        self.base_url: str = json.loads(line)["base_url"]

    def configure(self, **settings: Any) -> dict:
        """Set latency / noise (and forget recorded requests); returns the child's answer."""
        self._proc.stdin.write(json.dumps(settings) + "\n")
        self._proc.stdin.flush()
        return json.loads(self._proc.stdout.readline())

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._proc.stdin.close()
                self._proc.wait(15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _memoize_pictures(config) -> None:
    """Serve each distinct (request, index, noise) picture from memory after its first drawing.

    ``pure_noise`` (a setting of this benchmark server only) serves pictures of pure random noise, every
    pixel independent: the worst case for a thumbnail's bytes (the demo server's own ``noise`` is a
    texture blended into its drawing).
    """
    import random

    from PIL import Image

    from wisgate_nb.emulator import respond

    drawn: dict[tuple, bytes] = {}
    original = respond.Job.encoded

    def encoded(job, index: int) -> bytes:
        pure = getattr(config, "pure_noise", False)
        key = (repr(job.params), job.size, index, config.noise, pure, job.events)
        if key not in drawn:
            if pure:
                pixels = random.Random(f"{job.params.prompt}/{index}").randbytes(job.size[0] * job.size[1] * 3)
                drawn[key] = job.encode(Image.frombytes("RGB", job.size, pixels))
            else:
                drawn[key] = original(job, index)
        return drawn[key]

    respond.Job.encoded = encoded


def _child() -> None:
    from wisgate_nb.emulator import EmulatorConfig, serve

    config = EmulatorConfig(latency=0.0, noise=True)
    _memoize_pictures(config)
    with serve(config) as srv:
        print(json.dumps({"base_url": srv.base_url}), flush=True)
        for line in sys.stdin:
            settings = json.loads(line)
            for name, value in settings.items():
                setattr(srv.emulator.config, name, value)
            count = len(srv.emulator.requests)
            srv.emulator.reset()
            print(json.dumps({"ok": True, "requests": count}), flush=True)


if __name__ == "__main__":
    _child()
