"""The review window: judge every person's matte over the plate, compare, approve/flag, re-run.

Layout: people and verdicts on the left, the viewer in the middle (overlay / alpha / plate, A/B
wipe, zoom to single pixels), the review and re-run controls on the right, the timeline (real
frame numbers) and the stability graph below. All file reading, the stability analysis and
re-runs run on a QThreadPool (:mod:`vfxmatte.review.workers`); the GUI thread only composes
proxy images that are already in memory, so scrubbing stays interactive on 4K shots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt, QThreadPool, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from vfxmatte.errors import VfxMatteError
from vfxmatte.io.colour import load_config
from vfxmatte.jobspec import JobSpec
from vfxmatte.review import compose
from vfxmatte.review.compose import Background, ViewMode
from vfxmatte.review.display import DisplayLook, ViewSettings
from vfxmatte.review.model import (
    APPROVED,
    FLAGGED,
    PROXY_LONG_SIDE,
    FrameImages,
    FrameSource,
    ProxyCache,
    ResultFolder,
    ReviewStore,
    open_plate_view,
)
from vfxmatte.review.people_panel import PeoplePanel
from vfxmatte.review.rerun import base_spec
from vfxmatte.review.rerun_panel import RerunPanel
from vfxmatte.review.stability import StabilityReport, analyse
from vfxmatte.review.verdict_panel import VerdictPanel
from vfxmatte.review.view_controls import ViewControls
from vfxmatte.review.widgets import ImageViewer, StabilityGraph
from vfxmatte.review.workers import GuiThreadCollector, Worker
from vfxmatte.sequence import format_frames

FULL_RES_AT = 1.25  # switch from proxy to full resolution above this many screen px per proxy px


@dataclass
class ReviewOptions:
    """How the window was opened (the `vfxmatte review` options)."""

    result: str | None = None
    plate: str | None = None
    compare: str | None = None
    masks: dict[str, str] = field(default_factory=dict)
    job: JobSpec | None = None
    ocio_config: str | None = None
    cache_dir: str | None = None
    proxy_long_side: int = PROXY_LONG_SIDE
    cache_mb: int = 768
    view: ViewSettings | None = None  # display/view/exposure/gamma/channel (default: config's)


class ReviewWindow(QMainWindow):
    """The panel. Public methods are what the tests and the CLI drive; the UI calls the same."""

    def __init__(self, options: ReviewOptions | None = None):
        super().__init__()
        self.options = options or ReviewOptions()
        self.setWindowTitle("vfxmatte review")
        self.resize(1500, 900)
        self.cache = ProxyCache(self.options.cache_mb * 2**20, self.options.cache_dir)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(3)  # frame loads, the stability analysis, a re-run
        self.workers: set[Worker] = set()
        self.collector = GuiThreadCollector(self)
        self.pending: set[tuple[str, int, bool]] = set()
        self.frame_errors: dict[tuple[str, int], str] = {}
        self.result: ResultFolder | None = None
        self.source: FrameSource | None = None
        self.compare: FrameSource | None = None
        self.store: ReviewStore | None = None
        self.report: StabilityReport | None = None
        self.frames: list[int] = []
        self.index = 0
        self.person: int | None = None
        self.mode = ViewMode.OVERLAY
        self.bg = Background.CHECKER
        self.wipe_on = False
        self.wipe_pos = 0.5
        self.force_full = False
        self.stability_worker: Worker | None = None
        self.displayed: tuple[int, bool] | None = None  # (frame, full) on screen now
        self.shown_images: FrameImages | None = None
        self._build_ui()
        if self.options.result:
            self.open_result(self.options.result, self.options.plate)
            if self.options.compare:
                self.open_compare(self.options.compare)

    # -- UI construction ------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        self.viewer = ImageViewer()
        self.viewer.zoomChanged.connect(self._on_zoom)
        self.viewer.hovered.connect(self._on_hover)
        self.view_note = QLabel()  # per-frame message over the viewer (missing / corrupt frame)
        self.view_note.setStyleSheet("color: #ffb000; font-weight: bold;")
        self.view_note.setWordWrap(True)  # long file paths must not widen the window

        # left: people
        left = self.people = PeoplePanel()
        self.people.personChanged.connect(self._on_person_row)
        self.people_list, self.info_label = self.people.list, self.people.info

        # viewer toolbar
        self.mode_box = QComboBox()
        self.mode_box.addItems([m.value for m in ViewMode])
        self.mode_box.currentTextChanged.connect(lambda t: self.set_view_mode(ViewMode(t)))
        self.bg_box = QComboBox()
        self.bg_box.addItems([b.value for b in Background])
        self.bg_box.currentTextChanged.connect(lambda t: self.set_background(Background(t)))
        self.wipe_check = QCheckBox("A/B wipe")
        self.wipe_check.setEnabled(False)
        self.wipe_check.toggled.connect(self.set_wipe)
        self.wipe_slider = QSlider(Qt.Orientation.Horizontal)
        self.wipe_slider.setRange(0, 1000)
        self.wipe_slider.setValue(500)
        self.wipe_slider.setMaximumWidth(200)
        self.wipe_slider.valueChanged.connect(lambda v: self.set_wipe_position(v / 1000))
        self.compare_button = QPushButton("Compare B...")
        self.compare_button.clicked.connect(self._choose_compare)
        self.full_check = QCheckBox("Full res")
        self.full_check.toggled.connect(self.set_full_resolution)
        fit = QPushButton("Fit")
        fit.clicked.connect(self.viewer.fit)
        one = QPushButton("1:1")
        one.clicked.connect(lambda: self.viewer.set_zoom(1.0))
        self.zoom_label = QLabel("100%")
        bar = QHBoxLayout()
        for w in (QLabel("View"), self.mode_box, QLabel("Background"), self.bg_box):
            bar.addWidget(w)
        bar.addStretch(1)
        for w in (self.full_check, fit, one, self.zoom_label):
            bar.addWidget(w)
        wipe_bar = QHBoxLayout()
        for w in (self.compare_button, self.wipe_check, self.wipe_slider):
            wipe_bar.addWidget(w)
        wipe_bar.addStretch(1)
        self.look = DisplayLook(load_config(self.options.ocio_config))
        self.view_controls = ViewControls(self.look, self.options.view)
        self.view_controls.changed.connect(self.show_frame)
        centre = QWidget()
        cv = QVBoxLayout(centre)
        cv.addLayout(bar)
        cv.addWidget(self.view_controls)
        cv.addLayout(wipe_bar)
        cv.addWidget(self.view_note)
        cv.addWidget(self.viewer, 1)

        # right: review + re-run
        review_box = self.verdicts = VerdictPanel()
        self.verdicts.marked.connect(lambda s: self.mark(s) if s else self.clear_mark())
        self.verdicts.frameChosen.connect(self.go_to_frame)
        self.note_edit, self.flagged_list = self.verdicts.note_edit, self.verdicts.flagged_list
        self.verdict_label = self.verdicts.verdict_label

        self.rerun = RerunPanel(self.pool)
        self.rerun.requested.connect(self.start_rerun)
        self.rerun.done.connect(self._on_rerun_done)
        right = QWidget()
        rvl = QVBoxLayout(right)
        rvl.addWidget(review_box, 1)
        rvl.addWidget(self.rerun)

        # bottom: timeline + graph
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.valueChanged.connect(self.go_to_index)
        prev = QPushButton("<")
        prev.setMaximumWidth(30)
        prev.clicked.connect(lambda: self.step(-1))
        nxt = QPushButton(">")
        nxt.setMaximumWidth(30)
        nxt.clicked.connect(lambda: self.step(1))
        self.frame_label = QLabel("frame -")
        self.frame_label.setMinimumWidth(170)
        timeline = QHBoxLayout()
        timeline.addWidget(prev)
        timeline.addWidget(self.slider, 1)
        timeline.addWidget(nxt)
        timeline.addWidget(self.frame_label)
        self.graph = StabilityGraph()
        self.graph.frameClicked.connect(lambda i: self.slider.setValue(i))
        self.analysis_progress = QProgressBar()
        self.analysis_progress.setMaximumWidth(220)
        self.analysis_progress.setFormat("analysis %v/%m")

        left.setMinimumWidth(150)
        right.setMaximumWidth(380)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(centre)
        splitter.addWidget(right)
        splitter.setSizes([190, 1000, 310])
        root = QWidget()
        layout = QVBoxLayout(root)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        layout.addLayout(timeline)
        layout.addWidget(self.graph)
        self.setCentralWidget(root)
        self.pixel_label = QLabel()
        self.statusBar().addWidget(self.pixel_label, 1)
        self.statusBar().addPermanentWidget(self.analysis_progress)

        open_action = QAction("Open results...", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._choose_result)
        self.menuBar().addMenu("&File").addAction(open_action)
        for key, fn in (
            (Qt.Key.Key_Left, lambda: self.step(-1)),
            (Qt.Key.Key_Right, lambda: self.step(1)),
            (Qt.Modifier.SHIFT | Qt.Key.Key_A, lambda: self.mark(APPROVED)),
            (Qt.Key.Key_F, lambda: self.mark(FLAGGED)),
            (Qt.Key.Key_W, lambda: self.wipe_check.toggle()),
        ):
            QShortcut(QKeySequence(key), self, activated=fn)
        # Channel keys as in Nuke's viewer: R, G, B, A; the same key again returns to RGB.
        for channel in "RGBA":
            QShortcut(
                QKeySequence(getattr(Qt.Key, f"Key_{channel}")),
                self,
                activated=lambda c=channel: self.view_controls.set_channel(c),
            )
        self._set_enabled(False)

    def _set_enabled(self, on: bool) -> None:
        for w in (self.slider, self.people_list, self.mode_box, self.rerun, self.note_edit):
            w.setEnabled(on)

    # -- messages ------------------------------------------------------------------------------
    def show_message(self, text: str, error: bool = False) -> None:
        """A banner above the viewer: problems with the folder, results of a re-run."""
        colour = "#7a1f1f" if error else "#5a4a12"
        self.banner.setStyleSheet(f"background: {colour}; color: white; padding: 6px;")
        self.banner.setText(text)
        self.banner.setVisible(bool(text))

    @property
    def message(self) -> str:
        return self.banner.text() if self.banner.isVisible() else ""

    # -- opening -------------------------------------------------------------------------------
    def open_result(self, path: str, plate: str | None = None) -> bool:
        """Open a result folder; on a problem show it in the window and return False."""
        self._stop_analysis()
        self.compare = None  # B belonged to the previous result
        self.wipe_check.setEnabled(False)
        self.set_wipe(False)
        self.wipe_check.setText("A/B wipe")
        try:
            result = ResultFolder(path, plate)
            plate_view = open_plate_view(result, self.options.ocio_config)
            store = ReviewStore.beside(result)
        except VfxMatteError as exc:
            self.result = self.source = self.store = None
            self.frames = []
            self.viewer.clear()
            self.people.clear()
            self.graph.set_frames([])
            self._set_enabled(False)
            self.show_message(f"Cannot review {path}: {exc.message}", error=True)
            self.setWindowTitle("vfxmatte review")
            return False
        self.result, self.store = result, store
        self.source = FrameSource(result, plate_view, self.cache, self.options.proxy_long_side)
        self.frames = list(range(result.frames[0], result.frames[-1] + 1))
        self.frame_errors.clear()
        self.report = None
        self.setWindowTitle(f"vfxmatte review - {result.sequence}")
        self.people.set_people(result.people)
        self.person = None
        plate_text = result.plate_pattern or "none"
        self.info_label.setText(
            f"A: {result.name}\nengine {result.engine}\n{len(result.frames)} frame(s) "
            f"{format_frames(result.frames)}\n{result.display_window.width}x"
            f"{result.display_window.height}\nplate: {plate_text}"
        )
        self.show_message("; ".join(result.problems))
        self._set_enabled(True)
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.frames) - 1)
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.index = 0
        self.graph.set_frames(self.frames)
        self.graph.current = 0
        self.displayed = self.shown_images = None
        self.viewer.fit_next_image()
        self._refresh_flag_list()
        self.show_frame()
        self.start_analysis()
        return True

    def open_compare(self, path: str) -> bool:
        """Open a second result (B) for the wipe; it shares A's plate."""
        if self.result is None:
            return False
        try:
            other = ResultFolder(path, self.result.plate_pattern)
        except VfxMatteError as exc:
            self.show_message(f"Cannot compare with {path}: {exc.message}", error=True)
            return False
        self.compare = FrameSource(
            other,
            self.source.plate if self.source else None,
            self.cache,
            self.options.proxy_long_side,
        )
        self.wipe_check.setEnabled(True)
        self.wipe_check.setText(f"A/B wipe (B: {other.name}, {other.engine})")
        self.show_frame()
        return True

    def _choose_result(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Result folder")
        if folder:
            self.open_result(folder, self.options.plate)

    def _choose_compare(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Result folder to compare (B)")
        if folder:
            self.open_compare(folder)

    # -- navigation and view state ---------------------------------------------------------------
    @property
    def frame(self) -> int | None:
        return self.frames[self.index] if self.frames else None

    def go_to_frame(self, frame: int) -> None:
        if frame in self.frames:
            self.slider.setValue(self.frames.index(frame))

    def go_to_index(self, index: int) -> None:
        if not self.frames:
            return
        self.index = max(0, min(index, len(self.frames) - 1))
        if self.slider.value() != self.index:
            self.slider.setValue(self.index)
            return
        self.graph.current = self.index
        self.graph.update()
        self.show_frame()

    def step(self, delta: int) -> None:
        self.go_to_index(self.index + delta)

    def set_person(self, index: int | None) -> None:
        self.people.select(index)

    def _on_person_row(self, row: int) -> None:
        self.person = None if row <= 0 else row - 1
        self.graph.highlight = self.person
        self.graph.update()
        self.show_frame()

    def set_view_mode(self, mode: ViewMode) -> None:
        self.mode = ViewMode(mode)
        if self.mode_box.currentText() != self.mode.value:
            self.mode_box.setCurrentText(self.mode.value)
        self.show_frame()

    def set_background(self, bg: Background) -> None:
        self.bg = Background(bg)
        if self.bg_box.currentText() != self.bg.value:
            self.bg_box.setCurrentText(self.bg.value)
        self.show_frame()

    def set_wipe(self, on: bool) -> None:
        self.wipe_on = bool(on) and self.compare is not None
        if self.wipe_check.isChecked() != self.wipe_on:
            self.wipe_check.setChecked(self.wipe_on)
        self.show_frame()

    def set_wipe_position(self, pos: float) -> None:
        self.wipe_pos = pos
        if self.wipe_on:
            self.show_frame()

    def set_full_resolution(self, on: bool) -> None:
        self.force_full = bool(on)
        self.show_frame()

    def _want_full(self) -> bool:
        """Full resolution when forced, or once one proxy pixel covers more than ~1 screen pixel."""
        if self.force_full:
            return True
        if self.source is None:
            return False
        dw = self.source.result.display_window
        proxy_scale = max(dw.width, dw.height) / self.source.proxy_long_side
        return proxy_scale > 1.0 and self.viewer.zoom() * proxy_scale > FULL_RES_AT

    def _on_zoom(self, factor: float) -> None:
        self.zoom_label.setText(f"{factor:.0%}")
        if self.displayed is not None and self._want_full() != self.displayed[1]:
            QTimer.singleShot(0, self.show_frame)  # not re-entrantly from inside set_image

    def _on_hover(self, x: int, y: int) -> None:
        """Pixel position (display-window pixels) and every person's alpha under the cursor."""
        if self.result is None:
            return
        text = f"x {x}  y {y}"
        images = self.shown_images
        if images is not None:
            h, w = images.alphas.shape[1:]
            px, py = int(x / images.scale), int(y / images.scale)
            if 0 <= px < w and 0 <= py < h:
                values = "  ".join(
                    f"{name} {float(images.alphas[i, py, px]):.3f}"
                    for i, name in enumerate(self.result.people)
                )
                level = "full res" if images.scale == 1.0 else f"proxy 1/{images.scale:.1f}"
                text += f"   alpha: {values}   ({level})"
        self.pixel_label.setText(text)

    # -- frame display -------------------------------------------------------------------------
    def _images(
        self, which: str, source: FrameSource, frame: int, full: bool
    ) -> FrameImages | None:
        """Cached images now, or None after scheduling a background load (proxy shown meanwhile)."""
        hit = source.cached(frame, full)
        if hit is not None:
            return hit
        key = (which, frame, full)
        self._drop_stale_loads(frame)
        if key not in self.pending and (which, frame) not in self.frame_errors:
            self.pending.add(key)
            worker = Worker(lambda _w: source.images(frame, full), tag=key)
            worker.signals.finished.connect(self._on_loaded)
            worker.signals.failed.connect(self._on_load_failed)
            self.workers.add(worker)
            self.pool.start(worker)
        return source.cached(frame, False) if full else None

    def _drop_stale_loads(self, frame: int) -> None:
        """Scrubbing fast queues loads of frames already left behind: take back the ones that
        have not started, so the frame under the playhead is read next."""
        for w in list(self.workers):
            tag = w.tag
            if (
                isinstance(tag, tuple)
                and tag in self.pending
                and tag[1] != frame
                and self.pool.tryTake(w)
            ):
                self.pending.discard(tag)
                self.workers.discard(w)

    def _on_loaded(self, payload: tuple) -> None:
        key, _images = payload
        self.pending.discard(key)
        self._drop_worker(key)
        if self.frame is not None and key[1] == self.frame:
            self.show_frame()

    def _on_load_failed(self, payload: tuple) -> None:
        key, message = payload
        self.pending.discard(key)
        self._drop_worker(key)
        self.frame_errors[(key[0], key[1])] = message
        if self.frame is not None and key[1] == self.frame:
            self.show_frame()

    def _drop_worker(self, tag: object) -> None:
        for w in list(self.workers):
            if w.tag == tag:
                self.workers.discard(w)

    def show_frame(self) -> None:
        """Compose the current frame from cached images, or ask for them and return."""
        if self.source is None or not self.frames:
            return
        frame = self.frames[self.index]
        total = len(self.frames)
        self.frame_label.setText(f"frame {frame}  ({self.index + 1}/{total})")
        self._refresh_verdicts()
        if frame not in self.source.result.frames:
            self.view_note.setText(f"frame {frame} is missing from {self.source.result.sequence}")
            self.viewer.clear()
            self.displayed = None
            return
        error = self.frame_errors.get(("A", frame))
        if error:
            self.view_note.setText(error)
            self.viewer.clear()
            self.displayed = None
            return
        full = self._want_full()
        a = self._images("A", self.source, frame, full)
        if a is None:
            self.view_note.setText(f"loading frame {frame}...")
            return
        notes = []
        if a.plate_error:
            notes.append(a.plate_error)
        image = compose.render(a, self.mode, self.person, self.bg, **self._look_args())
        if self.wipe_on and self.compare is not None:
            b_image, b_note = self._compare_image(frame, full and a.scale == 1.0, a)
            if b_image is not None:
                names = (f"A {self.source.result.name}", f"B {self.compare.result.name}")
                image = compose.wipe(image, b_image, self.wipe_pos, names)
            if b_note:
                notes.append(b_note)
        dw = self.source.result.display_window
        self.viewer.set_image(image, a.scale, (dw.width, dw.height))
        self.displayed = (frame, a.scale == 1.0)
        self.shown_images = a
        self.view_note.setText("; ".join(notes))

    def _compare_image(self, frame: int, full: bool, a: FrameImages) -> tuple:
        assert self.compare is not None
        if frame not in self.compare.result.frames:
            return None, f"B ({self.compare.result.name}) has no frame {frame}: showing A"
        error = self.frame_errors.get(("B", frame))
        if error:
            return None, f"B: {error}"
        b = self._images("B", self.compare, frame, full)
        if b is None:
            return None, f"loading B frame {frame}..."
        person = self.person
        if person is not None:
            name = self.source.result.people[person] if self.source else ""
            people_b = self.compare.result.people
            person = people_b.index(name) if name in people_b else None
        return compose.render(b, self.mode, person, self.bg, **self._look_args()), ""

    def _look_args(self) -> dict:
        """Exposure, OCIO display/view, gamma and channel for :func:`compose.render`."""
        view = self.view_controls.settings
        return {"look": lambda linear: self.look.apply(linear, view), "channel": view.channel}

    # -- review --------------------------------------------------------------------------------
    def _people_for_verdict(self) -> list[str]:
        if self.result is None:
            return []
        return (
            list(self.result.people) if self.person is None else [self.result.people[self.person]]
        )

    def mark(self, status: str, note: str | None = None) -> None:
        """Approve or flag the current frame for the chosen person (or everyone); saved at once."""
        if self.store is None or self.frame is None:
            return
        text = self.verdicts.note if note is None else note
        for name in self._people_for_verdict():
            self.store.set(self.frame, name, status, text)
        self._save_review()

    def clear_mark(self) -> None:
        if self.store is None or self.frame is None:
            return
        for name in self._people_for_verdict():
            self.store.clear(self.frame, name)
        self._save_review()

    def _save_review(self) -> None:
        assert self.store is not None
        try:
            self.store.save()
        except VfxMatteError as exc:
            self.show_message(f"review not saved: {exc.message}", error=True)
        self._refresh_verdicts()
        self._refresh_flag_list()

    def _refresh_verdicts(self) -> None:
        if self.store is None or self.result is None or self.frame is None:
            return
        suspicious = self.report.flags.get(self.frame, {}) if self.report else {}
        states = self.report.states.get(self.frame, {}) if self.report else {}
        marks = {}
        for name in self.result.people:
            v = self.store.get(self.frame, name)
            if v is not None and v.status in (APPROVED, FLAGGED):
                marks[name] = v.status
        self.people.show_frame_state(marks, states, suspicious)
        chosen = {name: self.store.get(self.frame, name) for name in self._people_for_verdict()}
        self.verdicts.show_verdicts(self.frame, chosen)

    def _refresh_flag_list(self) -> None:
        if self.store is None:
            self.verdicts.show_frames([], {})
            return
        flagged, review_flags, approved = [], set(), set()
        for frame, people in sorted(self.store.verdicts.items()):
            for name, v in sorted(people.items()):
                if v.status == FLAGGED:
                    review_flags.add(frame)
                    flagged.append((frame, name, v.note))
                else:
                    approved.add(frame)
        self.verdicts.show_frames(flagged, self.report.flags if self.report else {})
        self.graph.review_flags = review_flags
        self.graph.approved = approved - review_flags
        self.graph.update()

    # -- stability analysis (background) ----------------------------------------------------------
    def start_analysis(self) -> None:
        if self.source is None:
            return
        source, frames = self.source, list(self.frames)
        worker = Worker(
            lambda w: analyse(source, frames, on_progress=w.report, should_stop=w.stopped),
            tag=("analysis", str(source.result.sequence)),
        )
        worker.signals.progress.connect(self._on_analysis_progress)
        worker.signals.finished.connect(self._on_analysis_done)
        worker.signals.failed.connect(self._on_analysis_failed)
        self.stability_worker = worker
        self.workers.add(worker)
        self.analysis_progress.setRange(0, len(frames))
        self.analysis_progress.setValue(0)
        self.pool.start(worker)

    def _stop_analysis(self) -> None:
        if self.stability_worker is not None:
            self.stability_worker.stop()
            self.stability_worker = None

    def _current_analysis(self, tag: object) -> bool:
        return (
            self.stability_worker is not None
            and self.stability_worker.tag == tag
            and self.source is not None
        )

    def _on_analysis_progress(self, done: int, total: int) -> None:
        self.analysis_progress.setRange(0, total)
        self.analysis_progress.setValue(done)

    def _on_analysis_done(self, payload: tuple) -> None:
        tag, report = payload
        self._drop_worker(tag)
        if not self._current_analysis(tag):
            return
        self.stability_worker = None
        self.report = report
        self.graph.set_report(report)
        self._report_unreadable(report)
        self._refresh_flag_list()
        self._refresh_verdicts()

    def _report_unreadable(self, report: StabilityReport) -> None:
        """Corrupt frames are found by the analysis (headers are read lazily): say so on top."""
        assert self.result is not None
        bad = [
            f
            for f, people in report.flags.items()
            if any("unreadable" in r for reasons in people.values() for r in reasons)
            and f not in self.result.unreadable
        ]
        if bad:
            text = f"frame(s) {format_frames(bad)} cannot be read; re-render them"
            self.show_message("; ".join([*self.result.problems, text]))

    def _on_analysis_failed(self, payload: tuple) -> None:
        tag, message = payload
        self._drop_worker(tag)
        if self._current_analysis(tag):
            self.stability_worker = None
            self.show_message(f"stability analysis failed: {message}", error=True)

    # -- re-run (background, in the RerunPanel) ----------------------------------------------
    def start_rerun(self, frames: list[int] | None = None) -> bool:
        """Re-run the flagged frames (or ``frames``) with the panel's engine/options into a new
        sibling folder; when done it is opened as B with the wipe on."""
        if self.result is None or self.store is None:
            return False
        base = base_spec(self.result, self.options.job, self.options.masks, self.options.plate)
        frames = frames if frames is not None else self.store.flagged_frames()
        return self.rerun.start(base, self.result, frames)

    def _on_rerun_done(self, folder: Path) -> None:
        if self.open_compare(str(folder)):
            self.set_wipe(True)

    # -- lifecycle -------------------------------------------------------------------------------
    def is_idle(self) -> bool:
        """No load, analysis or re-run in flight (tests and --screenshot wait for this)."""
        return not self.pending and self.stability_worker is None and not self.rerun.busy

    def frame_settled(self) -> bool:
        """The current frame is on screen, or its message is (missing / unreadable)."""
        if self.source is None or self.frame is None:
            return True
        if self.displayed is not None and self.displayed[0] == self.frame:
            return True
        missing = self.frame not in self.source.result.frames
        return missing or ("A", self.frame) in self.frame_errors

    def when_idle(self, callback, poll_ms: int = 100) -> None:  # noqa: ANN001
        """Call ``callback`` once the window is idle and the current frame is on screen."""

        def check() -> None:
            if self.is_idle() and self.frame_settled():
                callback()
            else:
                QTimer.singleShot(poll_ms, check)

        QTimer.singleShot(poll_ms, check)

    def closeEvent(self, event) -> None:  # noqa: N802, ANN001
        for w in list(self.workers):
            w.stop()
        self.pool.waitForDone(30000)
        self.workers.clear()
        super().closeEvent(event)
        self.collector.stop()
