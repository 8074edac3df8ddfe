"""The engine service against a real uvicorn process on loopback (tiny synthetic frames, CPU)."""

from __future__ import annotations

import json
import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from service_helpers import RunningService, free_port, start_service

from vfxmatte.demo import DemoShot, make_demo_shot
from vfxmatte.io.images import read_image
from vfxmatte_client import ServiceClient, ServiceError, ServiceUnavailableError
from vfxmatte_client.client import frame_path

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("storage")


@pytest.fixture(scope="module")
def shot(root) -> DemoShot:
    return make_demo_shot(root / "shot", frames=8, width=160, height=90)


@pytest.fixture(scope="module")
def service(tmp_path_factory, root):
    svc = start_service(
        tmp_path_factory.mktemp("svc"),
        [root],
        "--max-request-mb",
        "0.05",
        "--max-upload-mb",
        "1",
    )
    yield svc
    svc.stop()


@pytest.fixture
def http(service: RunningService):
    with httpx.Client(
        base_url=service.url, headers={"Authorization": f"Bearer {service.token}"}, timeout=30
    ) as client:
        yield client


def job_request(shot: DemoShot, out: Path, frames: str = "1001") -> dict:
    return {"plate": shot.plate, "masks": shot.masks, "frames": frames, "out": str(out)}


def wait_finished(http: httpx.Client, job_id: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = http.get(f"/v1/jobs/{job_id}").json()
        if status["state"] in ("done", "failed", "cancelled"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {status}")


def test_token_file_is_private_and_auth_required(service: RunningService):
    assert stat.S_IMODE(os.stat(service.token_file).st_mode) == 0o600
    assert httpx.get(service.url + "/health").status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": service.token}):
        assert httpx.get(service.url + "/v1/info", headers=headers).status_code == 401
        r = httpx.post(service.url + "/v1/jobs", headers=headers, json={"plate": "/x"})
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
    good = {"Authorization": f"Bearer {service.token}"}
    info = httpx.get(service.url + "/v1/info", headers=good).json()
    available = [e["name"] for e in info["engines"] if e["available"]]
    assert "guided" in available  # rvm too where its weights are installed (CI installs them)
    assert "cpu" in info["devices"]


def test_path_escapes_refused(http: httpx.Client, shot: DemoShot, root: Path, tmp_path: Path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "plate.1001.exr").write_bytes(Path(shot.plate.replace("####", "1001")).read_bytes())
    (root / "link_dir").symlink_to(outside)
    (root / "evil").mkdir()
    (root / "evil" / "plate.1001.exr").symlink_to(outside / "plate.1001.exr")
    escapes = [
        str(root / ".." / outside.name / "plate.####.exr"),  # '..'
        str(outside / "plate.####.exr"),  # absolute, outside
        str(root / "link_dir" / "plate.####.exr"),  # folder symlink leading out
        str(root / "evil" / "plate.####.exr"),  # file symlink leading out
    ]
    for plate in escapes:
        r = http.post("/v1/jobs", json={**job_request(shot, root / "o/m.####.exr"), "plate": plate})
        assert r.status_code == 403, (plate, r.text)
    r = http.post("/v1/jobs", json=job_request(shot, outside / "m.####.exr"))
    assert r.status_code == 403 and "outside" in r.json()["detail"]
    r = http.post(
        "/v1/jobs", json={**job_request(shot, root / "o/m.####.exr"), "plate": "p.####.exr"}
    )
    assert r.status_code == 400 and "absolute" in r.json()["detail"]
    upload = http.post("/v1/uploads").json()["id"]
    r = http.post(
        "/v1/jobs",
        json={"upload": upload, "plate": "../../x.####.exr", "masks": {"a": "a.####.png"}},
    )
    assert r.status_code == 403
    assert http.put(f"/v1/uploads/{upload}/..%2Fx.exr", content=b"x").status_code in (400, 404)


def test_malformed_and_invalid_requests_refused(http: httpx.Client, shot: DemoShot, root: Path):
    r = http.post(
        "/v1/jobs", content=b'{"plate": "/x", ', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and r.json()["detail"] == "malformed JSON body"
    r = http.post("/v1/jobs", json={**job_request(shot, root / "o/m.####.exr"), "bogus": 1})
    assert r.status_code == 422 and "bogus" in r.json()["detail"]
    r = http.post("/v1/jobs", json={**job_request(shot, root / "o/m.####.exr"), "id_map": "/a"})
    assert r.status_code == 422 and "either masks" in r.json()["detail"]
    r = http.post("/v1/jobs", json={**job_request(shot, root / "o/m.####.exr"), "frames": "x-y"})
    assert r.status_code == 400 and "frame range" in r.json()["detail"]


def test_request_size_limits(http: httpx.Client, shot: DemoShot, root: Path):
    big = {**job_request(shot, root / "o/m.####.exr"), "engine_options": {"pad": "x" * 60_000}}
    assert http.post("/v1/jobs", json=big).status_code == 413
    upload = http.post("/v1/uploads").json()["id"]
    assert (
        http.put(f"/v1/uploads/{upload}/big.exr", content=b"0" * (1 << 20 + 1)).status_code == 413
    )

    def chunks():  # no Content-Length: the limit counts streamed bytes
        for _ in range(20):
            yield b"0" * 65536

    assert http.put(f"/v1/uploads/{upload}/big.exr", content=chunks()).status_code == 413
    assert http.get("/health").status_code == 200


def test_twenty_concurrent_submissions_queue_and_finish(
    service: RunningService, http: httpx.Client, shot: DemoShot, root: Path
):
    # This checks the queue, not the smoother: with smoothing off a one-frame job mattes its
    # frame only, not up to 3 lead-in and 3 look-ahead frames too (~110 engine frames -> 20).
    def submit(i: int) -> httpx.Response:
        with httpx.Client(base_url=service.url, headers=http.headers, timeout=60) as c:
            frame = 1001 + i % len(shot.frames)
            body = job_request(shot, root / f"c{i:02d}/m.####.exr", str(frame))
            return c.post("/v1/jobs", json={**body, "temporal_strength": 0})

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(submit, range(20)))
    assert [r.status_code for r in responses] == [202] * 20
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == 20
    finals = [wait_finished(http, job_id) for job_id in ids]
    assert [f["state"] for f in finals] == ["done"] * 20, [f["error"] for f in finals]
    for i, f in enumerate(finals):
        frame = 1001 + i % len(shot.frames)
        assert f["done"] == f["total"] == 1
        assert f["frames"][0]["frame"] == frame
        assert Path(f["outputs"][str(frame)]) == root / f"c{i:02d}" / f"m.{frame}.exr"
        assert Path(f["outputs"][str(frame)]).is_file()


def test_cancel_queued_and_running(http: httpx.Client, shot: DemoShot, root: Path):
    running = http.post(
        "/v1/jobs", json=job_request(shot, root / "cr/m.####.exr", "1001-1008")
    ).json()
    queued = http.post(
        "/v1/jobs", json=job_request(shot, root / "cq/m.####.exr", "1001-1008")
    ).json()
    r = http.post(f"/v1/jobs/{queued['id']}/cancel")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    deadline = time.monotonic() + 120
    while http.get(f"/v1/jobs/{running['id']}").json()["done"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert http.delete(f"/v1/jobs/{running['id']}").status_code == 200
    final = wait_finished(http, running["id"])
    assert final["state"] == "cancelled" and final["exit_code"] == 130
    assert 1 <= final["done"] < 8
    assert wait_finished(http, queued["id"])["done"] == 0
    assert not (root / "cq").exists()
    assert http.post("/v1/jobs/0123/cancel").status_code == 404


def test_failing_jobs_leave_the_service_healthy(
    service: RunningService, http: httpx.Client, shot: DemoShot, root: Path
):
    broken = root / "broken"
    broken.mkdir()
    (broken / "m.1001.png").write_bytes(b"not a png")
    bad_mask = {
        **job_request(shot, root / "f1/m.####.exr"),
        "masks": {"p": str(broken / "m.####.png")},
    }
    bad_engine = {**job_request(shot, root / "f2/m.####.exr"), "engine": "nope"}
    missing = {**job_request(shot, root / "f3/m.####.exr"), "frames": "1001-1020"}
    refused = http.post("/v1/jobs", json=bad_engine)  # engine and its options: checked at submit
    assert 400 <= refused.status_code < 500 and "unknown engine 'nope'" in refused.text
    ids = [http.post("/v1/jobs", json=body).json()["id"] for body in (bad_mask, missing)]
    finals = [wait_finished(http, i) for i in ids]
    assert [f["state"] for f in finals] == ["failed"] * 2
    assert "m.1001.png" in finals[0]["error"] and finals[0]["exit_code"] == 3
    assert "1009" in finals[1]["error"] and finals[1]["exit_code"] == 3
    assert service.alive() and http.get("/health").status_code == 200
    ok = http.post("/v1/jobs", json=job_request(shot, root / "f4/m.####.exr")).json()
    assert wait_finished(http, ok["id"])["state"] == "done"


def test_client_uploads_and_downloads(service: RunningService, shot: DemoShot, tmp_path: Path):
    client = ServiceClient(service.url, token_file=service.token_file)
    uploads = service.token_file.parent.parent / "work" / "uploads"
    before = set(uploads.iterdir())
    seen = []
    status, pattern = client.matte(
        shot.plate, shot.masks, shot.frames[:2], tmp_path / "res", on_progress=seen.append
    )
    assert status.state == "done", status.error
    assert pattern == str(tmp_path / "res" / "matte.####.exr")  # tmp_path is outside the roots
    assert seen[-1].done == 2 and status.names == ["person01", "person02"]
    assert set(uploads.iterdir()) == before  # the client removed its upload
    img = read_image(frame_path(pattern, 1002))
    assert {"A", "person01.A", "person02.A"} <= set(img.channels)
    assert img.channel("person01.A").max() > 0.9


def test_client_paths_mode_inside_roots(service: RunningService, shot: DemoShot, root: Path):
    client = ServiceClient(service.url, token_file=service.token_file)
    status, pattern = client.matte(shot.plate, shot.masks, [1003], root / "paths")
    assert status.state == "done" and pattern == str(root / "paths" / "matte.####.exr")
    assert status.outputs == {1003: str(root / "paths" / "matte.1003.exr")}


def test_client_messages(service: RunningService, tmp_path: Path):
    port = free_port()
    with pytest.raises(ServiceUnavailableError, match=f"vfxmatte serve --port {port}"):
        ServiceClient(f"http://127.0.0.1:{port}", token="x").info()
    bad = tmp_path / "tok"
    bad.write_text("wrong")
    with pytest.raises(ServiceError, match="refused the token") as err:
        ServiceClient(service.url, token_file=bad).info()
    assert err.value.status == 401
    assert (
        json.loads(json.dumps(ServiceClient(service.url, token_file=bad).health()))["status"]
        == "ok"
    )


def test_upload_deleted_only_when_no_job_reads_it(http: httpx.Client, shot: DemoShot):
    upload = http.post("/v1/uploads").json()["id"]
    for f in shot.frames:
        http.put(
            f"/v1/uploads/{upload}/plate.{f}.exr",
            content=Path(frame_path(shot.plate, f)).read_bytes(),
        )
        for name, pattern in shot.masks.items():
            http.put(
                f"/v1/uploads/{upload}/{name}.{f}.png",
                content=Path(frame_path(pattern, f)).read_bytes(),
            )
    body = {
        "upload": upload,
        "plate": "plate.####.exr",
        "masks": {n: f"{n}.####.png" for n in shot.masks},
    }
    job = http.post("/v1/jobs", json=body).json()
    assert job["out"].endswith(f"{job['id']}/matte.####.exr")  # the service chose the output
    assert http.delete(f"/v1/uploads/{upload}").status_code == 409
    final = wait_finished(http, job["id"])
    assert final["state"] == "done" and final["done"] == len(shot.frames)
    assert http.get(f"/v1/jobs/{job['id']}/results/{shot.frames[-1]}").content[:4] == b"v/1\x01"
    assert http.delete(f"/v1/uploads/{upload}").json()["deleted"] is True
    assert http.delete(f"/v1/uploads/{upload}").status_code == 404
