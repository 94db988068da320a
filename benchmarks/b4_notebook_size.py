"""B4: bytes a saved notebook grows by per displayed 1024x1024 image.

Each approach's output is formatted the way a kernel formats it (IPython's DisplayFormatter;
bytes become base64, as the kernel's JSON packer does), stored in a notebook with nbformat and
measured against the same notebook without outputs. Ours: a Generation (the thumbnail grid).
Baselines: ``IPython.display.Image(data=png)`` and ``display(PIL.Image)`` (PNG and JPEG both).
The headline uses incompressible pictures (3 MB PNGs, like real API output); flat demo drawings
(75 KB PNGs) are measured for context.
"""

from __future__ import annotations

import base64
import io
import tempfile

from benchmarks.common import Mode, Row, ratio
from benchmarks.server import DemoServer

PROMPT = "a koi pond seen from above, ripples, autumn leaves"


def notebook_bytes(outputs: list[tuple[dict, dict]]) -> int:
    """Size of a one-cell notebook holding these display_data outputs."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    cell = new_code_cell("%%wisgate_image\n" + PROMPT)
    cell.outputs = [new_output("display_data", data=_jsonable(data), metadata=metadata)
                    for data, metadata in outputs]
    return len(nbformat.writes(new_notebook(cells=[cell])).encode("utf-8"))


def _jsonable(data: dict) -> dict:
    return {k: base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v for k, v in data.items()}


def per_image_kb(objects: list, count: int) -> float:
    """KB the notebook grows by per image when these objects are displayed."""
    from IPython.core.formatters import DisplayFormatter

    formatter = DisplayFormatter()
    outputs = [formatter.format(obj) for obj in objects]
    return (notebook_bytes(outputs) - notebook_bytes([])) / count / 1000


def run(server: DemoServer, mode: Mode) -> list[Row]:
    from IPython.display import Image as IPyImage
    from PIL import Image

    from wisgate_nb.config import WisGate
    from wisgate_nb.core.session import Session

    sizes: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="wisgate-b4-") as tmp:
        session = Session(WisGate(api_key="k", base_url=server.base_url, demo=False, history_dir=tmp))
        try:
            for kind in ("pure noise", "noise", "demo"):
                server.configure(latency=0.0, noise=kind == "noise", pure_noise=kind == "pure noise")
                for n in (1,) if mode.quick else (1, 4):
                    generation = session.run(session.prepare(PROMPT, size="1024x1024", n=n))
                    pngs = list(generation.data)
                    sizes[f"{kind} n={n}"] = {
                        "ours": per_image_kb([generation], n),
                        "IPython Image": per_image_kb([IPyImage(data=png) for png in pngs], n),
                        "display(PIL)": per_image_kb([Image.open(io.BytesIO(png)) for png in pngs], n),
                        "png_kb": sum(len(p) for p in pngs) / n / 1000,
                    }
        finally:
            server.configure(pure_noise=False)
            session.close()
    head = sizes["pure noise n=1"]
    smaller = min(head["IPython Image"], head["display(PIL)"])
    r = ratio(head["ours"], smaller)
    return [Row(
        "B4", f"saved-notebook bytes per displayed 1024×1024 image (pure noise, {head['png_kb'] / 1000:.1f} MB PNG)",
        head["ours"], "KB",
        baselines={"IPython Image": head["IPython Image"], "display(PIL)": head["display(PIL)"]},
        ratio=r, ratio_of="ours / IPython Image", target="≤ 100 KB and ≥ 30× smaller",
        met=head["ours"] <= 100 and r is not None and r <= 1 / 30,
        extra={"kb_per_image": sizes},
        note="noise-textured drawing: ours {:.0f} KB; flat demo drawing ({:.0f} KB PNG): ours {:.0f} KB vs IPython "
             "Image {:.0f} KB, display(PIL) {:.0f} KB".format(
                 sizes["noise n=1"]["ours"], sizes["demo n=1"]["png_kb"], sizes["demo n=1"]["ours"],
                 sizes["demo n=1"]["IPython Image"], sizes["demo n=1"]["display(PIL)"]),
    )]
