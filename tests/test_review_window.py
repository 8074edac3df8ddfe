"""The review window under offscreen Qt (pytest-qt): load, people, views, wipe, scrub, review
JSON, a re-run of one frame, zoom to full resolution, and broken folders shown as messages."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt application exists

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from review_data import cached_pipeline_result, copy_result  # noqa: E402

pytest.importorskip("pytestqt")
from PySide6.QtCore import QTimer  # noqa: E402

from vfxmatte.io.images import read_image, write_exr  # noqa: E402
from vfxmatte.review import compose  # noqa: E402
from vfxmatte.review.compose import Background, ViewMode  # noqa: E402
from vfxmatte.review.model import FLAGGED, ResultFolder, ReviewStore  # noqa: E402
from vfxmatte.review.window import ReviewOptions, ReviewWindow  # noqa: E402

WAIT_MS = 60_000


@pytest.fixture(scope="module")
def piped(tmp_path_factory):
    return cached_pipeline_result(tmp_path_factory)


def open_window(qtbot, options: ReviewOptions) -> ReviewWindow:
    window = ReviewWindow(options)
    qtbot.addWidget(window)
    window.resize(1200, 760)
    window.show()
    qtbot.waitUntil(window.is_idle, timeout=WAIT_MS)
    return window


def shown_image(window: ReviewWindow) -> np.ndarray:
    """The pixels the viewer is showing now (uint8 RGB, image resolution)."""
    image = (
        window.viewer._item.pixmap()
        .toImage()
        .convertToFormat(window.viewer._item.pixmap().toImage().Format.Format_RGB888)
    )
    w, h = image.width(), image.height()
    ptr = image.constBits()
    arr = np.frombuffer(ptr, np.uint8, count=image.bytesPerLine() * h).reshape(h, -1)
    return arr[:, : w * 3].reshape(h, w, 3).copy()


def expected(window: ReviewWindow, frame: int, mode, person, bg=Background.CHECKER) -> np.ndarray:
    assert window.source is not None
    images = window.source.images(frame)
    return compose.render(images, mode, person, bg, **window._look_args())


def wait_frame(qtbot, window: ReviewWindow, frame: int) -> None:
    qtbot.waitUntil(
        lambda: window.displayed is not None and window.displayed[0] == frame, timeout=WAIT_MS
    )


def test_load_people_views_and_scrub(qtbot, piped, tmp_path):
    folder = copy_result(piped.out, tmp_path / "res")
    window = open_window(qtbot, ReviewOptions(result=str(folder)))
    assert window.message == ""
    assert window.people_list.count() == 3  # "All people" + two persons
    assert window.people_list.item(1).text().startswith("person01")
    assert window.frame == 1001 and "frame 1001" in window.frame_label.text()
    assert window.report is not None and window.report.people == ["person01", "person02"]
    assert window.report.flow_compensated  # the plate came from vfxmatte:plate
    np.testing.assert_array_equal(
        shown_image(window), expected(window, 1001, ViewMode.OVERLAY, None)
    )

    window.set_person(1)
    assert window.person == 1
    window.set_view_mode(ViewMode.ALPHA)
    window.set_background(Background.BLACK)
    shown = shown_image(window)
    np.testing.assert_array_equal(
        shown, expected(window, 1001, ViewMode.ALPHA, 1, Background.BLACK)
    )
    # person02's alpha alone: different from person01's
    assert not np.array_equal(shown, expected(window, 1001, ViewMode.ALPHA, 0, Background.BLACK))

    window.slider.setValue(2)  # scrub: the slider index maps to real frame numbers
    wait_frame(qtbot, window, 1003)
    assert "frame 1003" in window.frame_label.text()
    np.testing.assert_array_equal(
        shown_image(window), expected(window, 1003, ViewMode.ALPHA, 1, Background.BLACK)
    )
    window.step(1)
    wait_frame(qtbot, window, 1004)
    window.step(1)  # past the end stays on the last frame
    assert window.frame == 1004


def test_zoom_to_pixel_level_loads_full_resolution(qtbot, piped, tmp_path):
    folder = copy_result(piped.out, tmp_path / "res")
    window = open_window(qtbot, ReviewOptions(result=str(folder), proxy_long_side=80))
    window.viewer.set_zoom(0.25)  # zoomed out: the 80-pixel proxy is enough
    qtbot.waitUntil(lambda: window.displayed == (1001, False), timeout=WAIT_MS)
    assert window.viewer.image_scale == pytest.approx(2.0)  # proxy drawn at full-res size
    assert shown_image(window).shape == (45, 80, 3)
    window.viewer.set_zoom(16.0)  # one full-res pixel = 16 screen pixels
    qtbot.waitUntil(lambda: window.displayed == (1001, True), timeout=WAIT_MS)
    assert window.viewer.image_scale == 1.0
    assert shown_image(window).shape == (90, 160, 3)


def test_wipe_between_two_results(qtbot, piped, tmp_path):
    a = copy_result(piped.out, tmp_path / "a")
    b = copy_result(piped.out, tmp_path / "b")
    # make B visibly different: person01 emptied in B's frame 1001
    from vfxmatte.io.images import read_image, write_exr

    img = read_image(b / "matte.1001.exr")
    chans = {c: img.channel(c) for c in img.channels}
    chans["person01.A"] = np.zeros_like(chans["person01.A"])
    write_exr(
        b / "matte.1001.exr", chans, img.data_window, img.display_window, metadata=img.metadata
    )

    window = open_window(qtbot, ReviewOptions(result=str(a), compare=str(b)))
    assert window.wipe_check.isEnabled()
    window.set_view_mode(ViewMode.ALPHA)
    window.set_person(0)
    window.set_wipe(True)
    window.set_wipe_position(0.5)
    qtbot.waitUntil(window.is_idle, timeout=WAIT_MS)
    window.show_frame()
    shown = shown_image(window)
    left = expected(window, 1001, ViewMode.ALPHA, 0)
    right = compose.render(window.compare.images(1001), ViewMode.ALPHA, 0, Background.CHECKER)
    assert not np.array_equal(left, right)
    np.testing.assert_array_equal(shown, compose.wipe(left, right, 0.5, ("A a", "B b")))
    below_labels = slice(30, None)
    np.testing.assert_array_equal(shown[below_labels, :70], left[below_labels, :70])
    np.testing.assert_array_equal(shown[below_labels, 90:], right[below_labels, 90:])
    window.set_wipe(False)
    np.testing.assert_array_equal(shown_image(window), left)
    # opening another result drops B and the wipe
    assert window.open_result(str(b))
    assert window.compare is None and not window.wipe_on and not window.wipe_check.isEnabled()


def test_approve_and_flag_round_trip_to_json(qtbot, piped, tmp_path):
    folder = copy_result(piped.out, tmp_path / "res")
    window = open_window(qtbot, ReviewOptions(result=str(folder)))
    window.set_person(0)
    window.note_edit.setText("hair edge boils")
    window.mark(FLAGGED)
    window.go_to_frame(1002)
    window.set_person(None)
    window.note_edit.setText("")
    window.mark("approved")
    data = json.loads((folder / "review.json").read_text())
    assert data["frames"]["1001"] == {
        "person01": {
            "status": "flagged",
            "note": "hair edge boils",
            "when": data["frames"]["1001"]["person01"]["when"],
        }
    }
    assert set(data["frames"]["1002"]) == {"person01", "person02"}
    assert any(
        "hair edge boils" in window.flagged_list.item(i).text()
        for i in range(window.flagged_list.count())
    )
    window.close()

    again = open_window(qtbot, ReviewOptions(result=str(folder)))
    again.set_person(0)
    assert "[flagged]" in again.people_list.item(1).text()
    assert "hair edge boils" in again.verdict_label.text()
    again.go_to_frame(1002)
    assert "[approved]" in again.people_list.item(2).text()
    assert ReviewStore.beside(ResultFolder(folder)).flagged_frames() == [1001]


def test_rerun_one_flagged_frame_off_the_gui_thread(qtbot, piped, tmp_path):
    folder = copy_result(piped.out, tmp_path / "res")
    window = open_window(qtbot, ReviewOptions(result=str(folder), masks=piped.shot.masks))
    window.go_to_frame(1002)
    window.set_person(1)
    window.mark(FLAGGED, "try a wider band")
    window.rerun.options_edit.setText("search_frac=0.12")
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(window.rerun.busy))
    timer.start(20)
    from PySide6.QtCore import Qt

    qtbot.mouseClick(window.rerun.button, Qt.MouseButton.LeftButton)  # the real button
    assert window.rerun.busy and not window.rerun.button.isEnabled()
    qtbot.waitUntil(lambda: not window.rerun.busy, timeout=WAIT_MS)
    timer.stop()
    assert any(ticks), "the event loop must keep running while the re-run works"
    assert "done" in window.rerun.label.text(), window.rerun.label.text()
    out = tmp_path / "res_rerun01"
    assert sorted(p.name for p in out.glob("*.exr")) == ["matte.1002.exr"]
    assert window.rerun.progress.value() == 1
    # the re-run is opened as B and the wipe is on, B on frame 1002 differs from A
    assert window.compare is not None and window.compare.result.folder == out
    assert window.wipe_on
    qtbot.waitUntil(window.is_idle, timeout=WAIT_MS)
    a = window.source.images(1002).alphas[1].astype(np.float32)
    b = window.compare.images(1002).alphas[1].astype(np.float32)
    assert np.abs(a - b).max() > 0.05
    window.go_to_frame(1003)  # B has no 1003: A is shown with a note, no crash
    wait_frame(qtbot, window, 1003)
    assert "no frame 1003" in window.view_note.text()


def _forget_masks(folder):
    """Rewrite a result folder's EXRs without the recorded masks (as older results were)."""
    for exr in sorted(Path(folder).glob("*.exr")):
        img = read_image(exr)
        meta = [
            m
            for m in img.metadata
            if m[0] not in ("vfxmatte:masks", "vfxmatte:id_map", "vfxmatte:spec")
        ]
        write_exr(
            exr,
            {c: img.pixels[..., i] for i, c in enumerate(img.channels)},
            img.data_window,
            img.display_window,
            metadata=meta,
        )


def test_rerun_without_masks_explains_what_is_needed(qtbot, piped, tmp_path):
    folder = copy_result(piped.out, tmp_path / "res")
    _forget_masks(folder)
    window = open_window(qtbot, ReviewOptions(result=str(folder)))
    window.mark(FLAGGED)
    assert not window.start_rerun()
    assert "--mask" in window.rerun.label.text()


def test_missing_frame_and_corrupt_exr_are_messages(qtbot, piped, tmp_path):
    folder = copy_result(piped.out, tmp_path / "res")
    (folder / "matte.1002.exr").unlink()
    data = (folder / "matte.1003.exr").read_bytes()
    (folder / "matte.1003.exr").write_bytes(data[: len(data) // 2])  # truncated mid-file
    window = open_window(qtbot, ReviewOptions(result=str(folder)))
    assert "1002" in window.message and "missing" in window.message
    assert window.frames == [1001, 1002, 1003, 1004]  # the gap stays on the timeline
    window.go_to_frame(1002)
    assert "missing" in window.view_note.text() and window.displayed is None
    window.go_to_frame(1003)
    qtbot.waitUntil(lambda: "cannot be" in window.view_note.text(), timeout=WAIT_MS)
    assert "1003" in window.view_note.text()
    assert window.report is not None
    assert window.report.flags[1003]["person01"] == ["unreadable"]
    assert window.report.flags[1002]["person01"] == ["missing"]
    assert "1003 cannot be read" in window.message
    window.go_to_frame(1004)  # the window still works after the bad frames
    wait_frame(qtbot, window, 1004)


def test_no_person_layers_and_empty_folder_are_messages(qtbot, tmp_path):
    from vfxmatte.io.images import Window, write_exr

    w = Window(0, 0, 8, 8)
    beauty = tmp_path / "beauty"
    write_exr(beauty / "beauty.0001.exr", {"R": np.zeros((8, 8)), "A": np.ones((8, 8))}, w, w)
    window = open_window(qtbot, ReviewOptions(result=str(beauty)))
    assert "no person layers" in window.message
    assert window.result is None and not window.slider.isEnabled()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not window.open_result(str(empty))
    assert "no numbered EXR" in window.message
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "matte.0001.exr").write_bytes(b"\x00" * 100)
    assert not window.open_result(str(garbage))
    assert "can be opened" in window.message


def test_graph_click_jumps_to_a_frame(qtbot, piped, tmp_path):
    folder = copy_result(piped.out, tmp_path / "res")
    window = open_window(qtbot, ReviewOptions(result=str(folder)))
    from PySide6.QtCore import QPoint, Qt

    graph = window.graph
    qtbot.mouseClick(graph, Qt.MouseButton.LeftButton, pos=QPoint(graph.width() - 9, 30))
    assert window.frame == 1004


def test_cli_review_screenshot_and_errors(cli, piped, tmp_path):
    folder = copy_result(piped.out, tmp_path / "res")
    png = tmp_path / "shot.png"
    env_had = os.environ.pop("QT_QPA_PLATFORM", None)
    try:
        proc = cli("review", folder, "--screenshot", png, "--size", "1200x760", "--view", "alpha")
    finally:
        if env_had is not None:
            os.environ["QT_QPA_PLATFORM"] = env_had
    assert proc.returncode == 0, proc.stderr
    from PySide6.QtGui import QImage

    image = QImage(str(png))
    assert (image.width(), image.height()) == (1200, 760)
    bad = cli("review", tmp_path / "nowhere")
    assert bad.returncode == 3
    assert bad.stderr.strip().count("\n") == 0 and "does not exist" in bad.stderr
    bad_view = cli("review", folder, "--view", "sideways", "--screenshot", png)
    assert bad_view.returncode == 2 and "--view" in bad_view.stderr


def test_fast_scrub_takes_back_loads_of_frames_left_behind(qtbot, piped, tmp_path):
    import threading

    from vfxmatte.review.workers import Worker

    folder = copy_result(piped.out, tmp_path / "res")
    window = open_window(qtbot, ReviewOptions(result=str(folder)))
    window.cache.max_bytes = 0  # keep nothing cached: every frame must be loaded again
    window.cache._items.clear()
    window.pool.setMaxThreadCount(1)
    gate = threading.Event()
    blocker = Worker(lambda _w: gate.wait(30), tag="blocker")
    window.pool.start(blocker)  # the only pool thread is busy: loads queue up
    for frame in (1002, 1003, 1004):
        window.go_to_frame(frame)
    assert {key[1] for key in window.pending} == {1004}
    gate.set()
    wait_frame(qtbot, window, 1004)
    assert not window.pending


def test_hover_reads_every_persons_alpha(qtbot, piped, tmp_path):
    folder = copy_result(piped.out, tmp_path / "res")
    window = open_window(qtbot, ReviewOptions(result=str(folder)))
    full = ResultFolder(folder).read(1001).alphas
    ys, xs = np.nonzero(full[0] > 0.99)
    x, y = int(xs[0]), int(ys[0])
    window._on_hover(x, y)
    text = window.pixel_label.text()
    assert f"x {x}  y {y}" in text
    assert f"person01 {full[0, y, x]:.3f}" in text and "person02" in text


def test_keyboard_review_and_typing_a_note(qtbot, piped, tmp_path):
    from PySide6.QtCore import Qt

    folder = copy_result(piped.out, tmp_path / "res")
    window = open_window(qtbot, ReviewOptions(result=str(folder)))
    window.activateWindow()
    window.note_edit.setFocus()
    qtbot.keyClicks(window.note_edit, "fat halo")  # letters in the note are not shortcuts
    assert window.note_edit.text() == "fat halo"
    assert window.store.verdicts == {}
    window.viewer.setFocus()
    qtbot.keyClick(window.viewer, Qt.Key.Key_F)
    assert window.store.get(1001, "person01").note == "fat halo"
    qtbot.keyClick(window.viewer, Qt.Key.Key_Right)
    assert window.frame == 1002


def test_cli_review_without_a_display_says_what_to_do(piped, tmp_path):
    import subprocess
    import sys

    from conftest import REPO_ROOT, cli_env

    env = {
        k: v
        for k, v in cli_env().items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "review", str(piped.out)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "no display" in proc.stderr and "Xvfb" in proc.stderr


def test_cancel_a_rerun(qtbot, piped, tmp_path):
    folder = copy_result(piped.out, tmp_path / "res")
    window = open_window(qtbot, ReviewOptions(result=str(folder), masks=piped.shot.masks))
    assert window.start_rerun([1001, 1002, 1003, 1004])
    window.rerun.cancel()
    qtbot.waitUntil(lambda: not window.rerun.busy, timeout=WAIT_MS)
    assert "cancelled" in window.rerun.label.text()
    written = list((tmp_path / "res_rerun01").glob("*.exr"))
    assert len(written) < 4  # stopped between frames, never mid-write
    assert window.rerun.button.isEnabled() and window.compare is None


def test_garbage_is_collected_in_the_gui_thread_while_a_window_is_open(qtbot, piped, tmp_path):
    """Automatic cyclic collection could delete Qt objects from a pool thread (a crash seen once):
    while a window is open it is off and the window's timer collects in the GUI thread."""
    import gc
    import threading

    assert gc.isenabled()
    window = open_window(qtbot, ReviewOptions(result=str(copy_result(piped.out, tmp_path / "r"))))
    assert not gc.isenabled()
    threads = []
    gc.callbacks.append(lambda phase, info: threads.append(threading.current_thread()))
    try:
        for _ in range(3 * gc.get_threshold()[0]):
            cycle: list = []
            cycle.append(cycle)  # garbage only the cyclic collector can free
        qtbot.wait(1200)
    finally:
        gc.callbacks.pop()
    assert threads and all(t is threading.main_thread() for t in threads)
    window.close()
    assert gc.isenabled()


def test_channel_keys_exposure_and_display_view(qtbot, piped, tmp_path):
    from PySide6.QtCore import Qt

    folder = copy_result(piped.out, tmp_path / "res")
    window = open_window(qtbot, ReviewOptions(result=str(folder)))
    window.set_view_mode(ViewMode.PLATE)
    plain = shown_image(window)
    qtbot.keyClick(window.viewer, Qt.Key.Key_R)
    assert window.view_controls.settings.channel == "R"
    red = shown_image(window)
    assert np.array_equal(red[..., 0], red[..., 2]) and np.array_equal(red[..., 0], plain[..., 0])
    qtbot.keyClick(window.viewer, Qt.Key.Key_R)  # the same key again: back to RGB
    assert window.view_controls.settings.channel is None
    qtbot.keyClick(window.viewer, Qt.Key.Key_A)  # A is the alpha channel, as in Nuke
    assert window.view_controls.settings.channel == "A"
    assert window.store is not None and not window.store.verdicts  # ... not approve
    np.testing.assert_array_equal(shown_image(window), expected(window, 1001, ViewMode.ALPHA, None))
    qtbot.keyClick(window.viewer, Qt.Key.Key_A)

    window.view_controls.set_exposure(2.0)
    brighter = shown_image(window)
    assert brighter.mean() > plain.mean() + 5
    np.testing.assert_array_equal(brighter, expected(window, 1001, ViewMode.PLATE, None))
    window.view_controls.display_box.setCurrentText("Display P3 - Display")
    assert window.view_controls.settings.display == "Display P3 - Display"
    assert window.view_controls.settings.view in window.look.views("Display P3 - Display")
    np.testing.assert_array_equal(shown_image(window), expected(window, 1001, ViewMode.PLATE, None))

    qtbot.keyClick(window.viewer, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    assert window.store.get(1001, "person01").status == "approved"


def test_people_list_shows_whole_names(qtbot):
    from PySide6.QtCore import Qt

    from vfxmatte.review.people_panel import PeoplePanel

    panel = PeoplePanel()
    qtbot.addWidget(panel)
    name = "stunt_double_left_rooftop_take02"
    panel.set_people(["hero", name])
    panel.show_frame_state({name: "flagged"}, {name: "propagated"}, {"hero": ["change 40%"]})
    assert panel.list.item(2).text() == f"{name}  [flagged]  (propagated)"
    assert panel.list.item(1).text() == "hero  (!) change 40%"
    assert panel.list.textElideMode() == Qt.TextElideMode.ElideNone and panel.list.wordWrap()
    assert panel.minimumWidth() >= panel.list.fontMetrics().horizontalAdvance(name)
