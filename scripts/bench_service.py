#!/usr/bin/env python3
"""Measure the engine service end to end: submit latency, queue throughput, upload round trip.

    PYTHONPATH=$PWD python scripts/bench_service.py --jobs 20 --size 160x90

Starts a real `vfxmatte serve` on a free loopback port, generates the demo shot, submits --jobs
one-frame jobs at once (paths mode), waits for all, then runs one upload-mode job through the
stdlib client (frames sent, result downloaded). Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vfxmatte.demo import make_demo_shot  # noqa: E402
from vfxmatte_client import ServiceClient  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--size", default="160x90")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shot = make_demo_shot(tmp / "shot", frames=4, width=width, height=height)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        token = tmp / "token"
        env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "serve",
                "--port",
                str(port),
                "--token-file",
                str(token),
                "--allow-root",
                str(tmp),
                "--work-dir",
                str(tmp / "work"),
            ],
            cwd=REPO,
            env=env,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    urllib.request.urlopen(url + "/health", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.1)
            print(f"service start (to /health): {time.perf_counter() - t0:.2f} s")
            client = ServiceClient(url, token_file=token)

            def submit(i: int) -> tuple[str, float]:
                t = time.perf_counter()
                job_id = client.submit(
                    {
                        "plate": shot.plate,
                        "masks": shot.masks,
                        "frames": str(1001 + i % 4),
                        "out": str(tmp / f"o{i}" / "m.####.exr"),
                        "device": "cpu",
                    }
                )
                return job_id, time.perf_counter() - t

            t1 = time.perf_counter()
            with ThreadPoolExecutor(args.jobs) as pool:
                results = list(pool.map(submit, range(args.jobs)))
            accepted = time.perf_counter() - t1
            lat = sorted(r[1] for r in results)
            statuses = [client.wait(job_id, poll_s=0.1) for job_id, _ in results]
            total = time.perf_counter() - t1
            states = {s.state for s in statuses}
            frame_s = [s.frames[0]["seconds"] for s in statuses if s.frames]
            print(
                f"{args.jobs} concurrent submissions at {width}x{height}: all accepted in "
                f"{accepted:.2f} s (submit latency median {statistics.median(lat) * 1000:.0f} ms, "
                f"max {lat[-1] * 1000:.0f} ms); all {','.join(states)} after {total:.2f} s; "
                f"pipeline per frame median {statistics.median(frame_s):.3f} s"
            )
            t2 = time.perf_counter()
            status, pattern = client.matte(
                shot.plate, shot.masks, [1001], tmp / "dl", transfer="upload"
            )
            print(
                f"upload-mode round trip, 1 frame {width}x{height} (upload, matte, download): "
                f"{time.perf_counter() - t2:.2f} s ({status.state})"
            )
            print(json.dumps(client.info()["jobs"]))
        finally:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
