"""B11: how long the demo server takes to draw a 1024x1024 scene from the prompt's words, against
today's procedural drawing of the same prompt (emulator/procedural.py), in the same run.

In process, drawing only (no encoding: PNG encoding is the same for both and is B1's business).
"""

from __future__ import annotations

import time

from PIL import Image, ImageDraw

from benchmarks.common import Mode, Row, ratio, stats

SIZE = (1024, 1024)
PROMPTS = {  # label -> (prompt, quality)
    "scene, medium": ("a red fox and a house in a forest at dusk", "medium"),
    "scene, high": ("a red fox and a house in a forest at dusk", "high"),
    "three subjects, city at night, high": ("a bus, a dog and a tree on a city street at night", "high"),
    "watercolor style, medium": ("watercolor of a lighthouse and a boat by the sea at noon", "medium"),
    "neon style, medium": ("neon robot in a city at night", "medium"),
    "sketch style, medium": ("sketch of an elephant on the grass", "medium"),
}


def _medians_ms(ours, base, reps: int) -> tuple[list[float], list[float]]:
    """Samples of two drawings taken in turn, so that a change of the machine's load hits both alike."""
    ours(), base()  # warm: fonts, imports
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(reps):
        for fn, into in ((ours, samples[0]), (base, samples[1])):
            t0 = time.perf_counter()
            fn()
            into.append((time.perf_counter() - t0) * 1000)
    return samples


def run(server, mode: Mode) -> list[Row]:
    from wisgate_nb.emulator import draw, procedural

    def today(prompt: str) -> Image.Image:
        """The drawing every prompt got before scenes: procedural shapes and the DEMO marks."""
        img = procedural.render(prompt, SIZE)
        layer = Image.new("RGBA", SIZE, (0, 0, 0, 0))
        procedural.marks(ImageDraw.Draw(layer), SIZE, prompt)
        return Image.alpha_composite(img, layer).convert("RGB")

    reps = mode.reps(15, 3)
    measured = {}
    for label, (prompt, quality) in PROMPTS.items():
        samples, base_samples = _medians_ms(lambda p=prompt, q=quality: draw.render(p, SIZE, quality=q),
                                            lambda p=prompt: today(p), reps)
        ours, base = stats(samples)["median"], stats(base_samples)["median"]
        measured[label] = {"ms": ours, "procedural_ms": base, "ratio": ratio(ours, base), "samples_ms": samples,
                           "procedural_samples_ms": base_samples}
    head = measured["scene, medium"]
    worst = max(m["ms"] for label, m in measured.items() if "style" not in label)
    return [Row(
        "B11", f"demo scene drawn at 1024x1024 (default quality, median of {reps})", head["ms"], "ms",
        baselines={"procedural drawing": head["procedural_ms"]}, ratio=head["ratio"],
        ratio_of="scene / procedural", target="< 50 ms for every scene without a style word (styles: reported)", met=worst < 50,
        extra=measured, note="; ".join(f"{label} {m['ms']:.0f} ms ({m['ratio']:.1f}× procedural)"
                                      for label, m in measured.items()),
    )]
