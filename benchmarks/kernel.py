"""A real Jupyter kernel driven over jupyter_client, as a notebook frontend drives it."""

from __future__ import annotations

import queue
import subprocess
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self

from benchmarks.common import child_env


class KernelError(RuntimeError):
    pass


class Kernel:
    """One ipykernel; ``execute`` sends a cell, ``reply`` waits for its execute_reply."""

    def __init__(self, cwd: str, **env: str) -> None:
        from jupyter_client.manager import start_new_kernel

        # The kernel's own stderr (a warning about TCP on loopback) would litter the table.
        self.km, self.kc = start_new_kernel(kernel_name="python3", cwd=cwd, env=child_env(**env),
                                            startup_timeout=120, stderr=subprocess.DEVNULL)
        self._replies: dict[str, dict] = {}
        self._results: dict[str, str | None] = {}
        self._idle: set[str] = set()

    def execute(self, code: str) -> str:
        return self.kc.execute(code, store_history=False)

    def reply(self, msg_id: str, timeout: float = 60.0) -> dict:
        """The execute_reply content of ``msg_id`` (others arriving first are kept for later)."""
        deadline = time.monotonic() + timeout
        while msg_id not in self._replies:
            left = deadline - time.monotonic()
            if left <= 0:
                raise KernelError(f"no reply within {timeout:g} s")
            try:
                msg = self.kc.get_shell_msg(timeout=left)
            except queue.Empty:
                continue
            self._replies[msg["parent_header"].get("msg_id")] = msg["content"]
        self.drain_iopub()
        return self._replies.pop(msg_id)

    def timed(self, code: str, timeout: float = 60.0) -> tuple[float, dict]:
        """(seconds from send to execute_reply, reply content)."""
        t0 = time.perf_counter()
        content = self.reply(self.execute(code), timeout)
        return time.perf_counter() - t0, content

    def run(self, code: str, timeout: float = 120.0) -> Any:
        """Run a setup cell; raise with the kernel's error if it fails; return its text/plain result."""
        msg_id = self.execute(code)
        content = self.reply(msg_id, timeout)
        if content["status"] != "ok":
            raise KernelError(f"{content.get('ename')}: {content.get('evalue')}\n{code}")
        deadline = time.monotonic() + 10
        while msg_id not in self._idle and time.monotonic() < deadline:
            self.drain_iopub(wait=0.05)
        self._idle.discard(msg_id)
        return self._results.pop(msg_id, None)

    def drain_iopub(self, wait: float = 0.0) -> list[dict]:
        """Read what the kernel published so far (keeps execute results of setup cells)."""
        msgs = []
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=wait)
            except queue.Empty:
                return msgs
            wait = 0.0
            msgs.append(msg)
            parent = msg["parent_header"].get("msg_id")
            if msg["msg_type"] == "execute_result":
                self._results[parent] = msg["content"]["data"].get("text/plain")
            elif msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                self._idle.add(parent)

    def interrupt(self) -> None:
        self.km.interrupt_kernel()

    def close(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
