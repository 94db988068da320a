"""Demo pictures follow the prompt's words: properties of the pixels (not snapshots) and the ``demo_scene``
record that travels from the demo server, inside the image file, into the saved file's provenance."""

from __future__ import annotations

import base64
import colorsys
import io
import json
import zlib

import httpx
import pytest
from conftest import TEST_KEY
from PIL import Image, ImageChops, ImageFilter, ImageStat

import wisgate_nb
from wisgate_nb.emulator import draw, procedural
from wisgate_nb.emulator.scene import NOUNS, plan
from wisgate_nb.emulator.scene.words import read
from wisgate_nb.records import demoscene, imagemeta

SIZE = (256, 256)


def picture(prompt: str, size=SIZE, **options) -> Image.Image:
    return draw.render(prompt, size, mark=False, **options)


def luminance(img: Image.Image, box=None) -> float:
    return ImageStat.Stat((img.crop(box) if box else img).convert("L")).mean[0]


def sky_box(img: Image.Image) -> tuple[int, int, int, int]:
    return (0, 0, img.width, int(img.height * 0.4))  # the horizon is always below 55 % of the height


def ground_box(img: Image.Image) -> tuple[int, int, int, int]:
    return (0, int(img.height * 0.8), img.width, img.height)


def hue_where_they_differ(a: Image.Image, b: Image.Image) -> tuple[float, float, float]:
    """The mean (r, g, b) of ``a`` over the pixels where ``a`` and ``b`` differ clearly."""
    changed = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 40 else 0)
    assert ImageStat.Stat(changed).mean[0] > 255 * 0.005, "the two pictures do not differ"
    return tuple(ImageStat.Stat(a, mask=changed).mean)


def edge_energy(img: Image.Image) -> float:
    return ImageStat.Stat(img.convert("L").filter(ImageFilter.FIND_EDGES)).mean[0]


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    return sum(ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB"))).mean) / 3


# -- the words -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("prompt, expected", [
    ("a red fox in the snow at night", dict(time="night", weather="snow", ground="snow",
                                             subjects=(("fox", "red"),))),
    ("A lighthouse on a cliff at sunset", dict(time="dusk", ground="mountain", subjects=(("lighthouse", None),))),
    ("pixel art of two blue cars and a dog on a city street", dict(style=("pixel art",), ground="city",
                                                                    subjects=(("car", "blue"), ("dog", None)))),
    ("black and white sketch of foxes, puppies and ponies", dict(style=("black and white", "sketch"), subjects=(
        ("fox", None), ("dog", None), ("horse", None)))),  # plurals, and other words for a noun
    ("a cat, a dog, a cow, a pig and a horse", dict(subjects=(("cat", None), ("dog", None), ("cow", None)))),
    ("stormy sea, neon watercolour", dict(weather="storm", ground="sea", style=("neon", "watercolor"))),
    ("zzq blorp", dict()),
])
def test_the_prompt_is_read_into_time_weather_ground_style_and_subjects(prompt, expected):
    reading = read(prompt)
    fields = dict(time=None, weather=None, ground=None, style=(), subjects=()) | expected
    assert {k: getattr(reading, k) for k in fields} == fields
    assert reading.known is bool(expected)


def test_the_vocabulary_has_fifty_nouns_of_every_kind():
    kinds = {entry.kind for entry in NOUNS.values()}
    assert len(NOUNS) >= 50 and kinds == {"animal", "building", "vehicle", "plant", "object"}


@pytest.mark.parametrize("noun", sorted(NOUNS))
def test_every_noun_is_drawn_inside_its_recorded_box(noun):
    """On a transparent background only the subject is drawn: its pixels fill its box, and only its box."""
    img = picture(f"a {noun}", (320, 200), transparent=True, quality="high")
    (subject,) = img.info["demo_scene"]["subjects"]
    x0, y0, x1, y1 = subject["box"]
    assert subject["noun"] == noun and 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 200
    alpha = img.getchannel("A")
    inside = ImageStat.Stat(alpha.crop((x0, y0, x1, y1))).mean[0] / 255
    outside = alpha.copy()
    outside.paste(0, (x0 - 3, y0 - 3, x1 + 3, y1 + 3))
    assert inside > 0.08, f"{noun} covers only {inside:.0%} of its box"
    assert outside.getbbox() is None, f"{noun} is drawn outside its box"
    assert 0.8 < (x1 - x0) / (y1 - y0) / NOUNS[noun].aspect < 1.25  # not stretched


@pytest.mark.parametrize("size", [(7, 5), (1, 1), (64, 64), (1536, 256)])
@pytest.mark.parametrize("quality", ["low", "medium", "high"])
def test_any_size_draws_every_word_kind(size, quality):
    prompt = "watercolor pixel art neon sketch black and white of a castle, a bus and a rainbow in a stormy city"
    assert picture(prompt, size, quality=quality).size == size
    assert draw.render(prompt, size, quality=quality, transparent=True).size == size


# -- what the words change --------------------------------------------------------------------------------


def test_night_is_darker_than_noon_in_the_sky_and_keeps_the_picture():
    noon, night = picture("a house and a tree at noon"), picture("a house and a tree at night")
    assert luminance(night, sky_box(night)) < 0.35 * luminance(noon, sky_box(noon))
    assert luminance(night) < luminance(noon) * 0.6
    boxes = [img.info["demo_scene"]["subjects"] for img in (noon, night)]
    assert boxes[0] == boxes[1]  # "make it night": the same scene, at night


@pytest.mark.parametrize("noun", ["car", "fox", "house", "balloon"])
def test_the_colour_word_is_the_hue_where_two_pictures_differ(noun):
    red, blue = picture(f"a red {noun} on a street"), picture(f"a blue {noun} on a street")
    r, g, b = hue_where_they_differ(red, blue)
    assert r > 1.4 * max(g, b), (r, g, b)
    r, g, b = hue_where_they_differ(blue, red)
    assert b > 1.4 * max(r, g), (r, g, b)


def test_a_colour_word_colours_only_the_next_noun():
    scene = picture("a red car and a dog").info["demo_scene"]
    assert [(s["noun"], s["colour"]) for s in scene["subjects"]] == [("car", "red"), ("dog", None)]


@pytest.mark.parametrize("other", ["grass", "city street", "sea", "beach"])
def test_the_snow_ground_is_bright_and_white(other):
    snow, elsewhere = picture("a dog in the snow"), picture(f"a dog on the {other}")
    box = ground_box(snow)
    assert luminance(snow, box) > 200 and ImageStat.Stat(snow.crop(box).convert("HSV")).mean[1] < 40
    assert luminance(snow, box) > luminance(elsewhere, box) + 15
    assert ImageStat.Stat(elsewhere.crop(box).convert("HSV")).mean[1] > 40 or other == "city street"


def test_high_quality_has_more_detail_than_low():
    prompt = "a red fox and a house in a forest at dusk"
    low, medium, high = (picture(prompt, (384, 384), quality=q) for q in ("low", "medium", "high"))
    colours = [len(img.getcolors(1 << 20)) for img in (low, medium, high)]
    assert colours[0] < colours[1] < colours[2], colours
    assert edge_energy(low) < edge_energy(medium) < edge_energy(high)
    assert low.info["demo_scene"] == high.info["demo_scene"]  # the same scene, more detail


@pytest.mark.parametrize("style, holds", [
    ("black and white", lambda img, plain: ImageStat.Stat(img.convert("HSV")).mean[1] < 1),
    ("pixel art", lambda img, plain: len(img.getcolors(1 << 20)) <= 16),
    ("neon", lambda img, plain: luminance(img) < 60),
    ("sketch", lambda img, plain: luminance(img) > 200),
    ("watercolor", lambda img, plain: edge_energy(img) < 0.7 * edge_energy(plain)),  # soft edges
])
def test_style_words_change_the_rendering(style, holds):
    plain, styled = picture("a lighthouse and a boat by the sea at noon"), picture(
        f"{style} of a lighthouse and a boat by the sea at noon")
    assert holds(styled, plain) and not holds(plain, plain)
    assert styled.info["demo_scene"]["style"] == [style]


def test_on_a_transparent_background_the_record_names_only_what_was_drawn():
    img = picture("a red cactus at night in the snow on the beach, watercolor", transparent=True)
    assert img.mode == "RGBA" and img.getchannel("A").getextrema()[0] == 0  # no sky, no ground
    assert img.info["demo_scene"] == {
        "time": "night", "weather": None, "ground": None, "style": [],
        "subjects": img.info["demo_scene"]["subjects"], "words": ["red", "cactus", "night"], "fallback": False}
    assert [s["noun"] for s in img.info["demo_scene"]["subjects"]] == ["cactus"]


def test_size_and_aspect_are_honoured():
    wide, tall = picture("a red car on a street", (1536, 512)), picture("a red car on a street", (512, 1536))
    assert wide.size == (1536, 512) and tall.size == (512, 1536)
    for img in (wide, tall):
        (car,) = img.info["demo_scene"]["subjects"]
        x0, y0, x1, y1 = car["box"]
        assert 0 <= x0 < x1 <= img.width and 0 <= y0 < y1 <= img.height
        assert (x1 - x0) / (y1 - y0) == pytest.approx(NOUNS["car"].aspect, rel=0.05)


def test_words_the_composer_does_not_know_fall_back_to_the_procedural_drawing():
    img = picture("zzq blorp quux")
    assert img.info["demo_scene"] == {"time": None, "weather": None, "ground": None, "style": [], "subjects": [],
                                      "words": [], "fallback": True}
    assert img.tobytes() == procedural.render("zzq blorp quux", SIZE).convert("RGB").tobytes()
    assert not picture("a cat").info["demo_scene"]["fallback"]


@pytest.mark.parametrize("prompt", ["a red fox at dusk", "zzq blorp"])
def test_every_demo_picture_says_demo_top_right_and_its_prompt_bottom_left(prompt):
    marked, plain = draw.render(prompt, SIZE), picture(prompt)
    assert mean_difference(marked.crop((200, 0, 256, 24)), plain.crop((200, 0, 256, 24))) > 10  # DEMO
    assert mean_difference(marked.crop((0, 236, 120, 256)), plain.crop((0, 236, 120, 256))) > 10  # the prompt
    assert marked.crop((0, 40, 256, 220)).tobytes() == plain.crop((0, 40, 256, 220)).tobytes()


def test_the_same_arguments_draw_the_same_picture_and_the_index_or_seed_another():
    first = draw.encode(picture("a red fox and a tree at dusk", index=1), "png")
    assert draw.encode(picture("a red fox and a tree at dusk", index=1), "png") == first
    for other in (dict(index=2), dict(index=1, seed=5)):
        assert draw.encode(picture("a red fox and a tree at dusk", **other), "png") != first


def test_the_record_is_the_plan_the_picture_was_painted_from():
    """What is recorded is what was planned (and drawn): the speed of drawing is benchmark B11, not a test."""
    scene = plan("a bus and a tree in a city at noon", (1024, 1024), quality="high")
    assert draw.render("a bus and a tree in a city at noon", (1024, 1024), quality="high",
                       mark=False).info["demo_scene"] == scene.record()


# -- through the demo server and the client --------------------------------------------------------------


def test_the_images_of_one_request_differ_and_each_keeps_its_scene(demo_session):
    result = wisgate_nb.generate("a red fox and a blue car on a city street at night", size="512x512", n=3)
    scenes = [wisgate_nb.provenance(path)["demo_scene"] for path in result.paths]
    images = [Image.open(path).convert("RGB") for path in result.paths]
    for i in range(3):
        for j in range(i + 1, 3):
            assert mean_difference(images[i], images[j]) > 3
            assert scenes[i]["subjects"] != scenes[j]["subjects"]  # placed, posed or coloured apart


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_the_demo_scene_is_in_the_saved_files_provenance(demo_session, fmt):
    result = wisgate_nb.generate("A red fox and a blue car on a city street at night, watercolor",
                                 size="768x512", quality="high", output_format=fmt)
    scene = wisgate_nb.provenance(result.paths[0])["demo_scene"]
    assert {k: v for k, v in scene.items() if k != "subjects"} == {
        "time": "night", "weather": None, "ground": "city", "style": ["watercolor"],
        "words": ["red", "fox", "blue", "car", "city", "night", "watercolor"], "fallback": False}
    assert [(s["noun"], s["colour"]) for s in scene["subjects"]] == [("fox", "red"), ("car", "blue")]
    image = Image.open(result.paths[0]).convert("RGB")
    for subject, channel in zip(scene["subjects"], (0, 2)):  # the fox's box is red, the car's blue
        x0, y0, x1, y1 = subject["box"]
        assert 0 <= x0 < x1 <= 768 and 0 <= y0 < y1 <= 512
        means = ImageStat.Stat(image.crop((x0, y0, x1, y1))).mean
        assert means[channel] == max(means), (subject, means)
    assert wisgate_nb.provenance(result.paths[0])["demo"] is True


def test_an_edit_paints_the_prompts_words_only_inside_the_mask(demo_session, tmp_path):
    photo = Image.new("RGB", (256, 256), (200, 200, 200))
    mask = Image.new("RGBA", (256, 256), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (128, 0, 256, 256))  # the transparent right half is edited
    result = wisgate_nb.edit(photo, "a red fox at night", mask=mask)
    out = Image.open(result.paths[0]).convert("RGB")
    assert mean_difference(out.crop((0, 0, 128, 256)), photo.crop((0, 0, 128, 256))) < 1
    assert luminance(out.crop((128, 0, 256, 100))) < 80  # night, where the mask allowed it
    (fox,) = wisgate_nb.provenance(result.paths[0])["demo_scene"]["subjects"]
    assert fox["noun"] == "fox" and fox["box"][0] >= 128  # the fox is inside the edited area


def test_an_edit_without_a_mask_applies_the_words_to_the_whole_image():
    photo = Image.new("RGB", (128, 128), (230, 230, 230))
    night, noon = (draw.edit([photo], None, f"make it {t}", mark=False) for t in ("night", "noon"))
    assert luminance(night) < luminance(noon) - 40
    assert night.info["demo_scene"]["time"] == "night"


def test_an_edit_answered_at_another_size_records_its_boxes_in_that_sizes_pixels():
    photo, mask = Image.new("RGB", (200, 100), "grey"), Image.new("RGBA", (200, 100), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (100, 0, 200, 100))
    same = draw.edit([photo], mask, "a blue car", index=1)
    double = draw.edit([photo], mask, "a blue car", index=1, size=(400, 200))
    assert double.size == (400, 200)
    (car,), (big,) = same.info["demo_scene"]["subjects"], double.info["demo_scene"]["subjects"]
    assert car["box"][0] >= 100 and big["box"] == [2 * v for v in car["box"]]


def test_a_server_that_hides_a_key_in_demo_scene_gets_no_further(tmp_path):
    """Only the documented shape and plain words are kept from what the server wrote into the file."""
    hostile = {"time": TEST_KEY, "weather": "snow", "ground": "<script>", "style": ["neon", TEST_KEY],
               "subjects": [{"noun": "fox", "colour": TEST_KEY, "box": [1, 2, 3, 4], "note": TEST_KEY},
                            {"noun": TEST_KEY, "box": [1, 2, 3, 4]}, {"noun": "cat", "box": [1, 2, "3", 4]}],
               "words": ["fox", TEST_KEY], "fallback": "yes", "key": TEST_KEY}
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, "PNG")
    data = imagemeta.png_put_text(png.getvalue(), {"demo_scene": json.dumps(hostile)})
    assert demoscene.served(data) == {"time": None, "weather": "snow", "ground": None, "style": ["neon"],
                                      "subjects": [{"noun": "fox", "colour": None, "box": [1, 2, 3, 4]}],
                                      "words": ["fox"], "fallback": False}
    assert demoscene.served(png.getvalue()) is None
    broken = imagemeta.png_put_text(png.getvalue(), {"demo_scene": "{not json"})
    assert demoscene.served(broken) is None
    assert demoscene.served(zlib.compress(b"not an image")) is None


def test_the_demo_servers_json_answer_keeps_the_apis_shape(server):
    """The record travels in the image file, so an OpenAI client sees no field it does not know."""
    body = httpx.post(f"{server.base_url}/images/generations", headers={"authorization": f"Bearer {TEST_KEY}"},
                      json={"prompt": "a red fox at night", "size": "256x256"}).json()
    assert set(body["data"][0]) == {"b64_json"} and "demo_scene" not in body
    shown = Image.open(io.BytesIO(base64.b64decode(body["data"][0]["b64_json"])))
    assert json.loads(shown.text["demo_scene"])["subjects"][0]["noun"] == "fox"
    value = colorsys.rgb_to_hsv(*(c / 255 for c in ImageStat.Stat(shown.convert("RGB")).mean))[2]
    assert value < 0.5  # night
