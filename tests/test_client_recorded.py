"""The client against real recorded OpenAI Images API traffic and the OpenAPI contract.

The recordings are data kept in the repository, ``tests/fixtures/recorded`` (its README names the
public test suites they come from, their commits and licences, and how they were sanitised), beside
the OpenAPI schemas in ``tests/fixtures/openai-images-openapi.yaml``: a plain clone runs every test.
Each recording is replayed through ``httpx.MockTransport``: the request we build must equal the
recorded one, and the recorded answer must come out as the right result or error.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import io
import json
from pathlib import Path

import httpx
import pytest
import yaml
from PIL import Image

from wisgate_nb import errors
from wisgate_nb import options as params
from wisgate_nb.http.client import ImagesClient, load_image_input, parse_images_body

BASE = "https://api.openai.com/v1"
KEY = "sk-recorded-test-key"
_HOP_HEADERS = {"content-length", "transfer-encoding", "content-encoding", "connection"}


FIXTURES = Path(__file__).resolve().parent / "fixtures"
RECORDED = FIXTURES / "recorded"
OPENAPI = FIXTURES / "openai-images-openapi.yaml"


class _VcrLoader(yaml.SafeLoader):
    """Ruby's VCR writes raw bodies with the local tag ``!binary`` (base64)."""


_VcrLoader.add_constructor("!binary", lambda loader, node: base64.b64decode(loader.construct_scalar(node)))


class Recording:
    """One recorded exchange, whichever recorder wrote it."""

    def __init__(self, method, url, request_headers, request_body, status, headers, body):
        self.method, self.url, self.request_headers = method, url, request_headers
        self.request_body, self.status, self.headers, self.body = request_body, status, headers, body

    def response(self) -> httpx.Response:
        headers = [(k, v) for k, v in self.headers if k.lower() not in _HOP_HEADERS]
        return httpx.Response(self.status, headers=headers, content=self.body)


def _pairs(headers: dict) -> list[tuple[str, str]]:
    return [(name, str(v)) for name, value in headers.items() for v in (value if isinstance(value, list) else [value])]


def load(name: str) -> Recording:
    path = RECORDED / name
    if path.suffix == ".json":  # Azure test-proxy format
        entry = next(e for e in json.loads(path.read_text())["Entries"] if "/images/" in e["RequestUri"])
        return Recording(entry["RequestMethod"], entry["RequestUri"], _pairs(entry["RequestHeaders"]),
                         json.dumps(entry["RequestBody"]).encode(), entry["StatusCode"],
                         _pairs(entry["ResponseHeaders"]), json.dumps(entry["ResponseBody"]).encode())
    interaction = yaml.load(path.read_text(), Loader=_VcrLoader)["http_interactions"][0]  # VCR format
    request, response = interaction["request"], interaction["response"]

    def body(part: dict) -> bytes:
        value = part["body"].get("string", "")
        if "base64_string" in part["body"]:
            return base64.b64decode(part["body"]["base64_string"])
        return value if isinstance(value, bytes) else value.encode()

    return Recording(request["method"].upper(), request["uri"], _pairs(request["headers"]), body(request),
                     response["status"]["code"], _pairs(response["headers"]), body(response))


def replay(recording: Recording, call, *, url_image: bytes | None = None):
    """Run ``call(client)`` against the recording; returns (result or exception, requests seen)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET" and url_image is not None:
            return httpx.Response(200, content=url_image, headers={"content-type": "image/png"})
        assert (request.method, str(request.url)) == (recording.method, recording.url)
        return recording.response()

    async def sleep(delay):  # never really wait in these tests
        pass

    async def main():
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        client = ImagesClient(base_url=BASE, api_key=KEY, http_client=http, sleep=sleep)
        try:
            return await call(client)
        except errors.WisGateError as exc:
            return exc
        finally:
            await http.aclose()

    return asyncio.run(main()), seen


def rebuild_payload(recording: Recording) -> dict:
    """Our payload for the recorded request's options: it must equal the recorded body."""
    options = json.loads(recording.request_body)
    prompt, model = options.pop("prompt"), options.pop("model")
    return params.build_generation_payload(prompt, model=model, **options)


GENERATIONS = {
    "openai-dotnet__ImagesTests__BasicGenerationWorks.json": 1,
    "openai-dotnet__ImagesTests__GenerationWithOptionsWorks.json": 2,
}


@pytest.mark.parametrize(("name", "count"), GENERATIONS.items())
def test_recorded_b64_generations(name, count):
    recording = load(name)
    payload = rebuild_payload(recording)
    assert payload == json.loads(recording.request_body)
    result, seen = replay(recording, lambda client: client.generate(payload))
    recorded = json.loads(recording.body)
    assert json.loads(seen[0].content) == json.loads(recording.request_body)
    assert len(result.images) == count
    assert all((blob.format, blob.width, blob.height) == ("png", 1, 1) for blob in result.images)
    assert result.usage == recorded["usage"] and result.created == recorded["created"]
    assert result.meta == {k: recorded[k] for k in ("background", "output_format", "quality", "size")}
    assert result.request_id == "Sanitized"  # X-Request-ID, found whatever its case


def test_recorded_401_is_an_authentication_error_not_retried():
    recording = load("openai-dotnet__ImagesTests__GenerateImageCanParseServiceError.json")
    result, seen = replay(recording, lambda client: client.generate(rebuild_payload(recording)))
    assert isinstance(result, errors.AuthenticationError) and len(seen) == 1
    assert (result.status_code, result.code, result.request_id) == (401, "invalid_api_key", "Sanitized")
    assert result.message.startswith("Incorrect API key provided: fake_key.")
    assert "WISGATE_API_KEY" in str(result)  # the hint says what to do


def test_recorded_url_generation_fetches_the_image_and_keeps_the_revised_prompt():
    recording = load("ruby-openai__images_generate_A_lion_cooking_pasta_wearing_a_hat_of_some_sort.yml")
    payload = rebuild_payload(recording)
    assert payload == json.loads(recording.request_body)
    png = io.BytesIO()
    Image.new("RGB", (16, 28), "orange").save(png, "PNG")  # the recorded SAS URL expired long ago
    result, seen = replay(recording, lambda client: client.generate(payload), url_image=png.getvalue())
    item = json.loads(recording.body)["data"][0]
    assert str(seen[1].url) == item["url"] and "authorization" not in seen[1].headers
    assert result.images[0].revised_prompt == item["revised_prompt"]
    assert (result.images[0].width, result.images[0].height) == (16, 28)
    assert result.request_id == "5c602879c1c1d3c21b0faf3c8f1e417c" and result.usage is None


def recorded_upload_parts(recording: Recording) -> list[tuple[str, str, bytes]]:
    content_type = {k.lower(): v for k, v in recording.request_headers}["content-type"]
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.message_from_bytes(head + recording.request_body, policy=email.policy.HTTP)
    return [(part.get_param("name", header="content-disposition"), part.get_filename(),
             part.get_payload(decode=True)) for part in message.iter_parts() if part.get_filename()]


def test_recorded_multi_image_edit_is_sent_as_image_array_and_the_truncated_image_is_refused():
    recording = load("ruby-openai__images_edit_multiple.TRUNCATED.yml")
    uploads = recorded_upload_parts(recording)  # two real PNGs the recorded client sent
    assert [(name, filename) for name, filename, _ in uploads] == [("image[0]", "image.png"),
                                                                   ("image[1]", "mask.png")]
    images = [load_image_input(data, default_name=filename) for _, filename, data in uploads]
    fields = params.build_generation_payload("Create a collage from these images", endpoint="edits", model="gpt-image-1")
    result, seen = replay(recording, lambda client: client.edit(fields, images))
    sent = email.message_from_bytes(
        f"Content-Type: {seen[0].headers['content-type']}\r\n\r\n".encode() + seen[0].content,
        policy=email.policy.HTTP)
    assert [part.get_param("name", header="content-disposition") for part in sent.iter_parts()] == [
        "model", "prompt", "image[]", "image[]"]
    # The recording's b64_json was cut to 128 characters (see the README): not a whole PNG.
    assert isinstance(result, errors.ResponseFormatError)
    assert result.request_id == "req_ac85535ae2f466a2c94767c0a37ec559"
    items, top = parse_images_body(recording.body, dict(recording.headers))
    assert len(items) == 1 and top["usage"]["total_tokens"] == 4592 and top["created"] == 1746193657


def test_recorded_400_on_edits_is_a_bad_request_with_code():
    recording = load(
        "ruby_llm__image_edit_functionality_with_remote_urls_rejects_edits_with_a_url_having_invalid_content_type.yml")
    result, seen = replay(recording, lambda client: client.edit({"model": "gpt-image-1.5", "prompt": "p"},
                                                                [load_image_input(Image.new("RGB", (4, 4)))]))
    assert type(result) is errors.BadRequestError and len(seen) == 1
    assert (result.code, result.message, result.request_id) == ("invalid_image_file", "Invalid image data.",
                                                                "<X_REQUEST_ID>")


# ---- the OpenAPI contract ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def schemas() -> dict:
    return yaml.safe_load(OPENAPI.read_text())["components"]["schemas"]


@pytest.mark.parametrize(("schema", "not_options"), [
    ("CreateImageRequest", {"prompt", "model"}),
    ("CreateImageEditRequest", {"prompt", "model", "image", "mask"}),
])
def test_every_contract_option_is_a_known_field(schemas, schema, not_options):
    assert set(schemas[schema]["properties"]) - not_options <= set(params.GENERATION_FIELDS)


def _enums(schemas: dict):
    for schema in ("CreateImageRequest", "CreateImageEditRequest", "EditImageBodyJsonParam"):
        for name, prop in schemas[schema]["properties"].items():
            variants = [prop, *prop.get("anyOf", [])]
            for variant in variants:
                for value in variant.get("enum", []):
                    if name in params.GENERATION_FIELDS and name != "size" and value is not None:
                        yield name, value


def test_every_contract_enum_value_is_accepted(schemas):
    pairs = list(_enums(schemas))
    assert len(pairs) > 20
    for name, value in pairs:
        assert params.validate_options(**{name: value}) == {name: value}


@pytest.mark.parametrize(("name", "low", "high"), [("n", 1, 10), ("partial_images", 0, 3),
                                                   ("output_compression", 0, 100)])
def test_contract_integer_bounds(name, low, high):
    assert params.validate_options(**{name: low}) == {name: low}
    assert params.validate_options(**{name: high}) == {name: high}
    for bad in (low - 1, high + 1):
        with pytest.raises(errors.ConfigurationError):
            params.validate_options(**{name: bad})


@pytest.mark.parametrize("path", ["/images/generations", "/images/edits"])
def test_documented_stream_example_parses(path):
    """The contract's streaming example, with its "..." placeholders replaced by a real PNG."""
    spec = yaml.safe_load(OPENAPI.read_text())
    example = next(e for e in spec["paths"][path]["post"]["x-extracted-response-examples"]
                   if e["title"] == "Streaming")["response"]
    png = io.BytesIO()
    Image.new("RGB", (3, 2)).save(png, "PNG")
    body = example.replace('"..."', json.dumps(base64.b64encode(png.getvalue()).decode()))
    body = body.rstrip("\n") + "\n\n"  # the extracted YAML scalar lost the blank line that ends the last event
    answer = Recording("POST", BASE + path, [], b"", 200, [("Content-Type", "text/event-stream")], body.encode())
    partials: list[int] = []

    async def call(client):
        if path.endswith("edits"):
            return await client.edit({"model": "m", "prompt": "p", "stream": "true"},
                                     [load_image_input(png.getvalue())], on_partial=lambda i, b: partials.append(i))
        return await client.generate({"model": "m", "prompt": "p", "stream": True},
                                     on_partial=lambda i, b: partials.append(i))

    result, _ = replay(answer, call)
    assert partials == [0] and result.streamed
    assert (result.images[0].width, result.images[0].height) == (3, 2)
    assert result.usage["total_tokens"] == 100
