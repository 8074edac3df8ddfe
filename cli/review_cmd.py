"""`vfxmatte review`: open the PySide6 review panel on a result folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from vfxmatte.errors import BadArgumentError, MissingInputError


def _parse_masks(masks: list[str]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in masks:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise BadArgumentError(f"--mask {item}: expected NAME=PATH, e.g. person01=p1.####.png")
        parsed[name] = path
    return parsed


def _check_display(offscreen: bool) -> None:
    """Qt aborts the process without a display; say what to do instead."""
    if offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return
    if sys.platform.startswith("linux") and not (
        os.environ.get("QT_QPA_PLATFORM")
        or os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise BadArgumentError(
            "no display: set DISPLAY (e.g. run under Xvfb) or QT_QPA_PLATFORM=offscreen, "
            "or use --screenshot"
        )


def _view_settings(
    ocio_config: str | None,
    display: str | None,
    view: str | None,
    exposure: float,
    gamma: float,
    channel: str | None,
):  # noqa: ANN202 - ViewSettings is imported lazily with the review extra
    """The viewer's look from the options, checked against the OCIO config before Qt starts."""
    from vfxmatte.io.colour import load_config
    from vfxmatte.review.display import DisplayLook, ViewSettings

    look = DisplayLook(load_config(ocio_config))
    default = look.default_settings()
    display = display or default.display
    if view is None:
        views = look.views(display) if display in look.displays() else []
        view = default.view if display == default.display or not views else views[0]
    return look.check(
        ViewSettings(display, view, exposure, gamma, channel.upper() if channel else None)
    )


def review(
    result_dir: Annotated[str, typer.Argument(help="Result folder (or EXR pattern) to review")],
    plate: Annotated[
        str | None, typer.Option(help="Plate sequence (default: vfxmatte:plate in the EXRs)")
    ] = None,
    compare: Annotated[
        str | None, typer.Option(help="Second result folder for the A/B wipe")
    ] = None,
    mask: Annotated[
        list[str] | None,
        typer.Option(help="NAME=PATH masks the results were made from (enables re-runs)"),
    ] = None,
    job: Annotated[
        str | None, typer.Option(help="Job spec JSON the results were made from (re-runs)")
    ] = None,
    frame: Annotated[int | None, typer.Option(help="Frame to open at")] = None,
    person: Annotated[str | None, typer.Option(help="Person layer to select")] = None,
    view: Annotated[str, typer.Option(help="overlay, alpha or plate")] = "overlay",
    wipe: Annotated[
        bool, typer.Option(help="Start with the A/B wipe on (needs --compare)")
    ] = False,
    ocio_config: Annotated[str | None, typer.Option(help="OCIO config (default $OCIO)")] = None,
    cache_dir: Annotated[
        str | None, typer.Option(help="Folder for a disk proxy cache (kept between sessions)")
    ] = None,
    proxy: Annotated[int, typer.Option(help="Proxy long side in pixels")] = 1280,
    screenshot: Annotated[
        str | None,
        typer.Option(
            help="Save a PNG of the window once loaded, then exit (offscreen if no display)"
        ),
    ] = None,
    size: Annotated[str, typer.Option(help="Window size WxH")] = "1500x900",
    display: Annotated[
        str | None, typer.Option(help="OCIO display (default: the config's default display)")
    ] = None,
    view_transform: Annotated[
        str | None, typer.Option(help="OCIO view of that display (default: its default view)")
    ] = None,
    exposure: Annotated[float, typer.Option(help="Viewer exposure in stops")] = 0.0,
    gamma: Annotated[float, typer.Option(help="Viewer display gamma")] = 1.0,
    channel: Annotated[
        str | None, typer.Option(help="Channel to show: R, G, B or A (default: RGB)")
    ] = None,
) -> None:
    """Judge each person's matte over the plate: views, A/B wipe, stability graph, approve/flag,
    re-run flagged frames."""
    # The 'review' extra first: without PySide6 that is what to fix, whatever the display.
    import PySide6  # noqa: F401

    from vfxmatte.review.compose import ViewMode

    try:
        mode = ViewMode(view)
    except ValueError as exc:
        raise BadArgumentError(f"--view {view}: choose overlay, alpha or plate") from exc
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError as exc:
        raise BadArgumentError(f"--size {size}: expected WxH, e.g. 1500x900") from exc
    if not Path(result_dir).exists() and "#" not in result_dir and "%" not in result_dir:
        raise MissingInputError(f"result folder {result_dir} does not exist")
    look = _view_settings(ocio_config, display, view_transform, exposure, gamma, channel)
    no_display = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    _check_display(
        offscreen=bool(screenshot) and no_display and "QT_QPA_PLATFORM" not in os.environ
    )
    from vfxmatte.review.app import launch
    from vfxmatte.review.rerun import load_job_spec
    from vfxmatte.review.window import ReviewOptions

    options = ReviewOptions(
        result=result_dir,
        plate=plate,
        compare=compare,
        masks=_parse_masks(mask or []),
        job=load_job_spec(job) if job else None,
        ocio_config=ocio_config,
        cache_dir=cache_dir,
        proxy_long_side=proxy,
        view=look,
    )
    code = launch(
        options,
        frame=frame,
        person=person,
        mode=mode,
        wipe=wipe,
        screenshot=screenshot,
        size=(width, height),
    )
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("review")(review)
