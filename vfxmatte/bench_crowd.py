"""Extra people for `vfxmatte bench`: copies of a real figure composited elsewhere in the shot.

Why: a throughput figure for "N people" must cost what N people cost. Masks alone (the old
``np.roll`` copies over background, two wrapping around the frame edge) match no image edge, so
the engine's unknown band around them grew to about three times a real person's and the
people-scaling table said more about bad masks than about people. Here each extra person is the
demo's front figure (its plate pixels, true alpha and rough mask) moved sideways and composited
over the plate with its true alpha, so its image edges sit where its mask says, as with the two
people the demo draws. Copies never wrap: each stays inside the frame, and later copies stand in
front of earlier ones and of the demo's pair (the masks of people behind lose what is covered,
as the demo's own occluded person does).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

# centres of the copies across the frame width, in order: free space either side of the demo's
# pair first (it stands at about 0.3-0.6 of the width), then between the copies already placed
CENTRES = (0.13, 0.80, 0.92, 0.70, 0.24, 0.04, 0.50, 0.60)
SOURCE = "person02"  # the demo's front figure: nobody occludes it, so its true alpha is whole
COVERED = 0.5  # alpha of a layer in front above which a mask behind it is cleared


def shifted(image: np.ndarray, dx: int) -> np.ndarray:
    """``image`` moved ``dx`` pixels along x (axis 1), zeros coming in: no wrap-around."""
    out = np.zeros_like(image)
    w = image.shape[1]
    if dx >= 0:
        out[:, dx:] = image[:, : w - dx]
    else:
        out[:, : w + dx] = image[:, -dx:]
    return out


def offsets(truth: np.ndarray, count: int) -> list[int]:
    """x offsets of ``count`` copies of the figure whose true alpha is ``truth`` (H, W): each
    copy's centre at the next of :data:`CENTRES`, clamped so its whole support stays inside."""
    cols = np.nonzero((truth > 0).any(0))[0]
    w = truth.shape[1]
    if not len(cols):
        return [0] * count
    left, right = int(cols[0]), int(cols[-1])
    centre = (left + right) // 2
    out = []
    for k in range(count):
        dx = round(CENTRES[k % len(CENTRES)] * w) - centre
        out.append(int(np.clip(dx, -left, w - 1 - right)))
    return out


def composite(
    plate: np.ndarray,
    masks: list[np.ndarray],
    figure: np.ndarray,
    truth: np.ndarray,
    dxs: list[int],
) -> tuple[np.ndarray, list[np.ndarray]]:
    """The plate (H, W, C float) with the figure composited at each offset, in order (each copy
    in front of everything before it), and every mask (uint8 H, W): the given ones first, then
    one per copy (``figure``: the source's rough mask, ``truth``: its true alpha in [0, 1])."""
    src = plate.copy()
    plate = plate.copy()
    masks = list(masks)
    for dx in dxs:
        alpha = shifted(truth, dx)[..., None]
        plate = alpha * shifted(src, dx) + (1.0 - alpha) * plate
        covered = alpha[..., 0] > COVERED
        masks = [np.where(covered, 0, m).astype(np.uint8) for m in masks]
        masks.append(shifted(figure, dx))
    return plate.astype(np.float32), masks


def add_people(folder: Path, shot, people: int) -> dict[str, str]:
    """Rewrite the demo shot in ``folder`` with ``people`` people in all (``people`` > 2 adds
    copies); returns every person's mask pattern. ``shot``: the :class:`~vfxmatte.demo.DemoShot`."""
    from vfxmatte.io.images import read_image, write_exr

    names = list(shot.masks)
    extra = max(0, people - len(names))
    patterns = {n: shot.masks[n] for n in names[:people]}
    if not extra:
        return patterns
    new = [f"person{k + 1:02d}" for k in range(len(names), people)]
    dxs = None
    for frame in shot.frames:

        def at(pattern: str, frame: int = frame) -> str:
            return pattern.replace("####", f"{frame:04d}")

        truth = cv2.imread(at(shot.truth[SOURCE]), cv2.IMREAD_UNCHANGED) / 65535.0
        figure = cv2.imread(at(shot.masks[SOURCE]), cv2.IMREAD_UNCHANGED)
        if dxs is None:  # from the first frame: each copy then moves as its source does
            dxs = offsets(truth, extra)
        masks = [cv2.imread(at(shot.masks[n]), cv2.IMREAD_UNCHANGED) for n in names]
        image = read_image(at(shot.plate), "bench plate")
        plate, masks = composite(image.pixels, masks, figure, truth.astype(np.float32), dxs)
        channels = {c: plate[..., i] for i, c in enumerate(image.channels)}
        write_exr(
            at(shot.plate), channels, image.data_window, image.display_window,
            metadata=image.metadata, compression="zip", pixel_type="half",
        )  # fmt: skip
        for name, mask in zip(names + new, masks, strict=True):
            cv2.imwrite(str(folder / "masks" / f"{name}.{frame:04d}.png"), mask)
    patterns |= {n: str(folder / "masks" / f"{n}.####.png") for n in new}
    return patterns
