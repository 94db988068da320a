"""The API key leaks nowhere: not in saved notebooks, history files, logs, error messages, reprs or
exported HTML; ``Authorization`` is redacted in everything the library logs.

Every file the whole test run writes is scanned for the shared test key after the last test, whatever
the order (conftest.py, ``pytest_sessionfinish``); the tests here produce their own outputs and scan those.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

import nbformat
import pytest
from conftest import TEST_KEY
from IPython.utils.capture import capture_output
from nbclient import NotebookClient
from reliability_helpers import closed_port, debug_logs, write_image
from secrets_scan import files_holding, key_needles

import wisgate_nb
from wisgate_nb import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    InternalServerError,
    WisGateError,
)
from wisgate_nb.config import WisGate
from wisgate_nb.core.doctor import report
from wisgate_nb.core.plans import DryRun
from wisgate_nb.core.session import Session, set_current
from wisgate_nb.emulator import EmulatorConfig, Fault, serve

REPO = Path(__file__).resolve().parent.parent

KEY = "sk-wg-DISTINCT-7c6b5a4f3e2d-keep-out"
KEY_CORE = "7c6b5a4f3e2d"  # the part of the key no masked form ever shows
WRONG_KEY = "sk-wg-WRONG-9a8b7c6d5e4f-typed-in-class"
WRONG_CORE = "9a8b7c6d5e4f"
NOTEBOOK_KEY = "sk-wg-NOTEBOOK-1d2e3f4a5b6c-secret"
NOTEBOOK_CORE = "1d2e3f4a5b6c"
UNMASKED_BEARER = re.compile(r"(?i)authorization\W{1,6}bearer\s+(?!\*|\[redacted\]|\(none)[A-Za-z0-9_\-]{6,}")


def test_the_end_of_run_scan_fails_a_run_that_wrote_the_key(tmp_path):
    """The scan that conftest.py runs after the last test turns a leak into a failed run, naming the file."""
    (tmp_path / "conftest.py").write_text((REPO / "tests" / "conftest.py").read_text())
    (tmp_path / "test_leaky.py").write_text(
        "from conftest import TEST_KEY\n\n"
        "def test_writes_the_key(tmp_path):\n"
        "    (tmp_path / 'notes.txt').write_text('key: ' + TEST_KEY)\n")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(REPO / "tests")})
    assert run.returncode != 0, run.stdout
    assert "1 passed" in run.stdout and "notes.txt" in run.stdout and "holds the test key" in run.stdout


def test_the_repository_holds_no_test_key():
    """Notebooks, Binder files and docs as committed (what a clone gets) never hold the test key."""
    roots = [REPO / "notebooks", REPO / "binder", REPO / "docs", REPO / "README.md"]
    assert files_holding(roots, key_needles(TEST_KEY)) == []


# ---- a run with a distinctive key, through every output path --------------------------------------


@pytest.fixture(scope="module")
def key_server():
    with serve(EmulatorConfig(require_key=KEY)) as handle:
        yield handle


@pytest.fixture
def library_logs():
    """Everything logged at DEBUG by wisgate_nb, httpx, httpcore and the servers, as text."""
    with debug_logs() as lines:
        yield lines


def _error_texts(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc)),
            *(exc._render_traceback_() if isinstance(exc, WisGateError) else [])]


@pytest.mark.timeout(120)
def test_a_distinctive_key_appears_in_no_output(key_server, tmp_path, library_logs):
    srv = key_server
    srv.emulator.reset()
    image = write_image(tmp_path / "photo.png", (96, 96))
    session = Session(WisGate(api_key=KEY, base_url=srv.base_url, demo=False, history_dir=str(tmp_path / "runs"),
                              max_retries=2, timeout=5.0))
    previous = set_current(session)
    texts: list[str] = []
    errors: list[BaseException] = []

    def expect(error: type[BaseException], call, *args, **kwargs):
        with pytest.raises(error) as info:
            call(*args, **kwargs)
        errors.append(info.value)

    try:
        # successes: plain, streamed, edited, and one after a 429 retry (logged)
        g1 = wisgate_nb.generate("a lighthouse", size="64x64", tags=["class"])
        g2 = wisgate_nb.generate("a streamed lighthouse", size="64x64", stream=True)
        g3 = wisgate_nb.edit(image, "make it night")
        srv.emulator.schedule(Fault("status", 429, retry_after=0.1))
        g4 = wisgate_nb.generate("after a rate limit", size="64x64")
        assert g4.record.attempts == 2

        # errors whose server message echoes the key
        srv.emulator.schedule(Fault("status", 401, message=f"Incorrect API key provided: {KEY}"))
        expect(AuthenticationError, wisgate_nb.generate, "echo 401", size="64x64")
        srv.emulator.schedule(*[Fault("status", 500, message=f"upstream rejected {KEY}")] * 3)
        expect(InternalServerError, wisgate_nb.generate, "echo 500 three times", size="64x64")
        srv.emulator.schedule(Fault("stream_error", message=f"stream failed for key {KEY}"))
        expect(InternalServerError, wisgate_nb.generate, "echo in a stream", size="64x64", stream=True)
        session.config.timeout = 0.3
        srv.emulator.schedule(*[Fault("slow", delay=0.6)] * 3)
        expect(APITimeoutError, wisgate_nb.generate, "too slow", size="64x64")
        session.config.timeout = 5.0
        good_url = session.config.base_url
        session.config.base_url = f"http://127.0.0.1:{closed_port()}/v1"
        expect(APIConnectionError, wisgate_nb.generate, "nobody there", size="64x64")
        session.config.base_url = good_url

        # a key typed wrongly in class: the real 401 of the server; the wrong key must not show either
        session.config.api_key = WRONG_KEY
        expect(AuthenticationError, wisgate_nb.generate, "with the wrong key", size="64x64")
        session.config.api_key = KEY

        # a key pasted with a space: refused, without repeating it
        session.config.api_key = f"sk-wg-DISTINCT-{KEY_CORE} keep-out"
        expect(ConfigurationError, wisgate_nb.generate, "with a broken key", size="64x64")
        session.config.api_key = KEY

        # every repr, rendering and export
        history = session.history
        request = session.prepare("a prepared request", size="64x64")
        dry = wisgate_nb.generate("a dry run", size="64x64", dry_run=True)
        assert isinstance(dry, DryRun) and "****" in str(dry)
        texts += [repr(session.config), str(session.config), repr(session.config.settings()), repr(session),
                  repr(session.target()), repr(request), repr(request.target), str(dry), repr(dry),
                  dry._repr_html_(), repr(dry.headers), repr(history), history._repr_html_(),
                  history.df.to_string(), history.df.to_html(), history.df._repr_html_(), repr(history.records),
                  history.compare()._repr_html_(), repr(history.compare()), session.config.key_source(),
                  str(report(session)), report(session)._repr_html_()]
        texts += [repr(session._client(session.target()))]
        for generation in (g1, g2, g3, g4):
            bundle, metadata = generation._repr_mimebundle_()
            texts += [repr(generation), generation.html(), repr(bundle), repr(metadata), repr(generation.record)]
        history.contact_sheet(tmp_path / "sheet.html")
        history.to_csv(tmp_path / "history.csv")

        # the magics, as a notebook user sees them
        from IPython.core.interactiveshell import InteractiveShell

        ip = InteractiveShell.instance()
        ip.run_line_magic("load_ext", "wisgate_nb")
        try:
            for cell in ("%config WisGate", "%wisgate_doctor", "%wisgate_history",
                         "%%wisgate_image --size 64x64 --dry-run\na magic dry run",
                         "%%wisgate_image --size 64x64\na magic lighthouse"):
                with capture_output() as captured:
                    ip.run_cell(cell, store_history=False)
                texts += [captured.stdout, captured.stderr]
                texts += [repr(o.data) for o in captured.outputs]
        finally:
            ip.run_line_magic("unload_ext", "wisgate_nb")
    finally:
        session.close()
        set_current(previous)

    assert len(errors) == 7
    for exc in errors:
        texts += _error_texts(exc)
    texts += [f"{r.method} {r.path} {r.headers}" for r in srv.emulator.requests]
    texts += library_logs

    assert any("Current: Secret('****-out')" in t for t in texts), "the %config listing was not captured"
    assert sum("Bearer ****-out" in t for t in texts) >= 3  # the dry runs show the masked form
    assert any("retrying" in line for line in library_logs), "the retry was not logged at DEBUG"
    assert any("POST" in line for line in library_logs)
    leaks = [t for t in texts if KEY_CORE in t or WRONG_CORE in t]
    assert leaks == []
    assert [line for line in library_logs if UNMASKED_BEARER.search(line)] == []
    assert [r.headers.get("authorization") for r in srv.emulator.requests
            if r.headers.get("authorization") not in (None, "Bearer [REDACTED]")] == []
    assert files_holding([tmp_path], [KEY_CORE.encode(), WRONG_CORE.encode()]) == []
    assert (tmp_path / "runs").exists()


@pytest.mark.timeout(180)
def test_a_notebook_run_with_a_distinctive_key_saves_and_exports_no_key(tmp_path, monkeypatch):
    """A real kernel, its saved notebook and the notebook exported to HTML, DEBUG logging on."""
    from nbconvert import HTMLExporter

    with serve(EmulatorConfig(require_key=NOTEBOOK_KEY)) as srv:
        # FIFO: the first image request gets a 401 echoing the key, the second a 429 (retried and logged)
        srv.emulator.schedule(Fault("status", 401, message=f"Incorrect API key provided: {NOTEBOOK_KEY}"),
                              Fault("status", 429, retry_after=0.1))
        cells = [
            "%load_ext wisgate_nb",
            ("import logging, sys\nlogging.basicConfig(level=logging.DEBUG, stream=sys.stdout, force=True)\n"
             "import wisgate_nb as wg"),
            "%%wisgate_image --size 64x64\na lighthouse refused",
            "%%wisgate_image --size 64x64\na lighthouse after a rate limit",
            "%%wisgate_image --size 64x64 --stream 1\na streamed lighthouse",
            "%%wisgate_image --size 64x64 --dry-run\na dry run",
            "%config WisGate",
            "%wisgate_doctor",
            "wg.configure()",
            "wg.history()",
            "wg.history().df",
            "import os\nprint(sorted(k for k in os.environ if 'WISGATE' in k))",
            "wg.history().contact_sheet('sheet.html')",
        ]
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        for name in ("WISGATE_DEMO", "WISDOM_GATE_KEY", "WISGATE_PROFILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("WISGATE_API_KEY", NOTEBOOK_KEY)
        monkeypatch.setenv("WISGATE_BASE_URL", srv.base_url)
        monkeypatch.setenv("WISGATE_HISTORY_DIR", str(tmp_path / "runs"))
        NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        sent = list(srv.emulator.requests)

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    # the only failing cell is the refused one
    assert [e["ename"] for e in errors] == ["AuthenticationError"], [e["evalue"] for e in errors]
    assert any("DEBUG" in o.get("text", "") for c in nb.cells for o in c.get("outputs", []))  # logs are in it
    assert len([r for r in sent if r.status == 200 and "/images/" in r.path]) == 2
    path = tmp_path / "run.ipynb"
    nbformat.write(nb, path)
    html, _ = HTMLExporter().from_notebook_node(nb)
    (tmp_path / "run.html").write_text(html, encoding="utf-8")
    assert (tmp_path / "sheet.html").exists() and list((tmp_path / "runs").glob("*/history.jsonl"))
    assert files_holding([tmp_path], [NOTEBOOK_KEY.encode(), NOTEBOOK_CORE.encode()]) == []
    saved = path.read_text()
    assert not UNMASKED_BEARER.search(saved) and not UNMASKED_BEARER.search(html)
    assert os.environ["WISGATE_API_KEY"] == NOTEBOOK_KEY  # (monkeypatch restores it after the test)
