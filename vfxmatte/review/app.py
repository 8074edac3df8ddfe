"""Start the review panel as an application (the CLI and the service call this)."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from vfxmatte.review.compose import ViewMode
from vfxmatte.review.window import ReviewOptions, ReviewWindow


def application() -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("vfxmatte review")
        app.setStyle("Fusion")
    return app  # type: ignore[return-value]


def configure(
    window: ReviewWindow,
    frame: int | None = None,
    person: str | None = None,
    mode: ViewMode = ViewMode.OVERLAY,
    wipe: bool = False,
) -> None:
    """Apply start-up choices (frame, person, view, wipe) to an opened window."""
    if frame is not None:
        window.go_to_frame(frame)
    if person and window.result is not None and person in window.result.people:
        window.set_person(window.result.people.index(person))
    window.set_view_mode(mode)
    if wipe:
        window.set_wipe(True)


def launch(
    options: ReviewOptions,
    frame: int | None = None,
    person: str | None = None,
    mode: ViewMode = ViewMode.OVERLAY,
    wipe: bool = False,
    screenshot: str | None = None,
    size: tuple[int, int] = (1500, 900),
) -> int:
    """Open the window; with ``screenshot``, save a PNG once everything is loaded and quit."""
    app = application()
    window = ReviewWindow(options)
    window.resize(*size)
    configure(window, frame, person, mode, wipe)
    window.show()
    if screenshot:

        def grab() -> None:
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            window.grab().save(screenshot)
            window.close()
            app.quit()

        window.when_idle(grab)
    return int(app.exec())
