"""A bounded, seeded fuzz of the service's HTTP API (issue 17): no client input gets a 5xx.

600 requests through FastAPI's TestClient (the real app, routes, handlers and body limit; no
sockets): valid job requests with one field replaced by junk, random JSON of random types, lone
surrogates, huge and negative numbers, deep nesting, malformed bodies, and random path segments on
every route. Afterwards the service must still answer /health and run a real job to the end.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from bad_files import make_tiny_shot
from fastapi.testclient import TestClient

from vfxmatte.server.app import ServiceSettings, create_app

SEED = 17
REQUESTS = 600
TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FIELDS = [
    "plate",
    "masks",
    "id_map",
    "ids",
    "frames",
    "out",
    "upload",
    "clean_plate",
    "engine",
    "engine_options",
    "device",
    "colorspace",
    "compression",
    "full_frame",
    "write_colour",
    "skip_existing",
    "preroll",
    "temporal_strength",
    "keyframes",
]
NASTY_TEXT = [
    "\ud800",
    "a\udfffb",
    "\x00",
    "../../etc/passwd",
    "/etc/passwd",
    "1-9999999",
    "123456789012345678901234567890",
    "1-10x123456789012345678901234567890",
    "1003-1001",
    "%s%n",
    "😀" * 50,
    "",
    " ",
    "#" * 5000,
]
NASTY_NUMBERS = [0, -1, -(2**63), 2**63, 10**30, 1e308, -1e308, 1e-320, 0.5, -0.0, 2**31]


def junk(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON-able value: scalars of every type, nasty text and numbers, nesting."""
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice(NASTY_NUMBERS)
    if kind == 3:
        return rng.randint(-(10**40), 10**40)
    if kind == 4:
        return rng.choice(NASTY_TEXT)
    if kind == 5:
        return "".join(chr(rng.randrange(0x10FFFF)) for _ in range(rng.randrange(1, 12)))
    if kind == 6:
        return [junk(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 7:
        return {rng.choice([*FIELDS, "x", "\ud800"]): junk(rng, depth + 1) for _ in range(3)}
    return [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["deep"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]


def body_bytes(value: Any) -> bytes:
    """JSON text with any lone surrogate written as a \\u escape (legal JSON syntax)."""
    return json.dumps(value, ensure_ascii=True).encode("ascii")


def valid_request(shot_dir: Path, out_dir: Path, n: int) -> dict[str, Any]:
    return {
        "plate": str(shot_dir / "plate.####.exr"),
        "masks": {"hero": str(shot_dir / "hero.####.png")},
        "frames": "1001-1002",
        "out": str(out_dir / f"j{n}" / "m.####.exr"),
        "device": "cpu",
    }


def random_request(rng: random.Random, shot_dir: Path, out_dir: Path, n: int):
    """(method, url, body bytes or None, content type) for one fuzz request."""
    choice = rng.random()
    if choice < 0.45:  # a valid job with one or two fields replaced by junk
        req = valid_request(shot_dir, out_dir, n)
        for _ in range(rng.randint(1, 2)):
            req[rng.choice([*FIELDS, "junk_field"])] = junk(rng)
        return "POST", "/v1/jobs", body_bytes(req), "application/json"
    if choice < 0.65:  # any JSON at all
        return "POST", "/v1/jobs", body_bytes(junk(rng)), "application/json"
    if choice < 0.75:  # malformed bodies
        raw = rng.choice(
            [b"{", b'{"plate": "\\ud800"', b"\xff\xfe\x00", b"null", b"[]" * 100, b'"\\udc80"']
        )
        return "POST", "/v1/jobs", raw, rng.choice(["application/json", "text/plain"])
    segment = rng.choice(
        [
            "%ED%A0%80",
            "%00",
            "..",
            "%2e%2e",
            "x" * 300,
            "123456789012345678901234567890",
            "-1",
            "😀",
        ]
    )
    method, url = rng.choice(
        [
            ("GET", f"/v1/jobs/{segment}"),
            ("GET", f"/v1/jobs/{segment}/results/{segment}"),
            ("POST", f"/v1/jobs/{segment}/cancel"),
            ("DELETE", f"/v1/jobs/{segment}"),
            ("PUT", f"/v1/uploads/{segment}/{segment}"),
            ("DELETE", f"/v1/uploads/{segment}"),
            ("GET", f"/{segment}"),
        ]
    )
    return method, url, b"x" if method == "PUT" else None, "application/octet-stream"


def wait_done(client: TestClient, job_id: str, timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        view = client.get(f"/v1/jobs/{job_id}", headers=AUTH).json()
        if view["state"] in ("done", "failed", "cancelled"):
            return view
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def test_fuzzed_requests_never_get_a_5xx(tmp_path: Path, one_torch_thread) -> None:
    shot = make_tiny_shot(tmp_path / "root" / "shot")
    out_dir = tmp_path / "root" / "out"
    settings = ServiceSettings(
        token=TOKEN, roots=[tmp_path / "root"], work_dir=tmp_path / "work", queue_size=1000
    )
    rng = random.Random(SEED)
    statuses: dict[int, int] = {}
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for n in range(REQUESTS):
            method, url, body, ctype = random_request(rng, shot.folder, out_dir, n)
            headers = {**AUTH, "Content-Type": ctype}
            r = client.request(method, url, content=body, headers=headers)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert r.status_code < 500, (method, url, body, r.status_code, r.text)
            r.json()  # every answer is valid JSON text
        assert sum(statuses.values()) == REQUESTS
        assert client.get("/health").json()["status"] == "ok"
        for rec in client.get("/v1/jobs", headers=AUTH).json()["jobs"]:  # drop the backlog
            client.post(f"/v1/jobs/{rec['id']}/cancel", headers=AUTH)
        # still healthy: a real job runs to the end after the fuzz
        req = valid_request(shot.folder, out_dir, 99999)
        submitted = client.post("/v1/jobs", json=req, headers=AUTH)
        assert submitted.status_code == 202, submitted.text
        view = wait_done(client, submitted.json()["id"])
        assert view["state"] == "done", view
        assert sorted(view["outputs"]) == ["1001", "1002"]
    print(f"fuzz statuses (seed {SEED}): {dict(sorted(statuses.items()))}")
    assert statuses.get(202, 0) > 0 and statuses.get(422, 0) > 0 and statuses.get(400, 0) > 0


@pytest.mark.parametrize(
    "payload",
    [
        {"plate": "\ud800", "masks": {"a": "/x"}},
        {"masks": {"\udc80": "/x"}},
        {"frames": "123456789012345678901234567890"},
        {"frames": "1-10x123456789012345678901234567890"},
        {"frames": "1-9999999"},
        {"ids": [-1]},
        {"ids": [10**30]},
        {"preroll": 10**9},
        {"temporal_strength": 1e999},
        {"out": "PLATE"},
        {"out": "PLATE_PRINTF"},
    ],
)
def test_named_hostile_requests_are_4xx(tmp_path: Path, payload: dict) -> None:
    shot = make_tiny_shot(tmp_path / "root" / "shot")
    settings = ServiceSettings(token=TOKEN, roots=[tmp_path / "root"], work_dir=tmp_path / "w")
    req = {**valid_request(shot.folder, tmp_path / "root" / "o", 0), **payload}
    if req["out"] in ("PLATE", "PLATE_PRINTF"):  # --out naming the plate, either spelling
        req["out"] = shot.plate if req["out"] == "PLATE" else shot.plate.replace("####", "%04d")
    if "ids" in payload:
        req.pop("masks")
        req["id_map"] = str(shot.folder / "ids.####.png")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        r = client.post("/v1/jobs", content=body_bytes(req), headers=AUTH)
        assert 400 <= r.status_code < 500, r.text
        assert client.get("/health").status_code == 200


def test_a_deep_exr_job_fails_alone_and_the_service_keeps_serving(
    tmp_path: Path, one_torch_thread
) -> None:
    from bad_files import write_deep

    shot = make_tiny_shot(tmp_path / "root" / "shot")
    write_deep(shot.folder / "plate.1002.exr")
    good = make_tiny_shot(tmp_path / "root" / "good")
    settings = ServiceSettings(token=TOKEN, roots=[tmp_path / "root"], work_dir=tmp_path / "w")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        bad = client.post(
            "/v1/jobs", json=valid_request(shot.folder, tmp_path / "root/o", 1), headers=AUTH
        )
        assert bad.status_code == 202, bad.text
        fine = client.post(
            "/v1/jobs", json=valid_request(good.folder, tmp_path / "root/o", 2), headers=AUTH
        )
        failed, done = wait_done(client, bad.json()["id"]), wait_done(client, fine.json()["id"])
        assert failed["state"] == "failed" and failed["exit_code"] == 3
        assert "plate frame 1002" in failed["error"] and "deep" in failed["error"]
        assert "\n" not in failed["error"]
        assert done["state"] == "done", done
        assert client.get("/health").json()["status"] == "ok"


def test_an_aborted_upload_leaves_no_part_file(tmp_path: Path) -> None:
    settings = ServiceSettings(
        token=TOKEN, roots=[], work_dir=tmp_path / "w", max_upload_bytes=100_000
    )

    def chunks():  # no Content-Length: the limit stops the stream part-way through
        for _ in range(10):
            yield b"0" * 30_000

    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        upload = client.post("/v1/uploads", headers=AUTH).json()["id"]
        r = client.put(f"/v1/uploads/{upload}/plate.1001.exr", content=chunks(), headers=AUTH)
        assert r.status_code == 413
        folder = tmp_path / "w" / "uploads" / upload
        assert list(folder.iterdir()) == []  # neither the file nor its .part
        ok = client.put(f"/v1/uploads/{upload}/plate.1001.exr", content=b"x" * 10, headers=AUTH)
        assert ok.status_code == 201 and [p.name for p in folder.iterdir()] == ["plate.1001.exr"]
