"""Draw a CAM over its image: a colormap blended over the pixels, the boxes outlined."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np


def overlay_png(image, heatmap, *, boxes: Sequence = (), alpha: float = 0.5,
                colormap: str = "jet", box_color: tuple[int, int, int] = (255, 255, 255),
                box_width: int = 2, size: tuple[int, int] | None = None) -> bytes:
    """Blend ``heatmap`` over ``image`` and return PNG bytes.

    Parameters
    ----------
    image : array (H, W, 3) uint8 or (H, W)
        The picture as a person sees it (not the preprocessed model input).
    heatmap : array (h, w)
        A map in [0, 1]; resized bilinearly to the image. Values outside are clipped.
    boxes : sequence of Box or (x_min, y_min, x_max, y_max), keyword-only
        Outlined in ``box_color``, in the image's pixel coordinates.
    alpha : float, keyword-only
        Weight of the colormap in the blend, in [0, 1].
    colormap : str, keyword-only
        A matplotlib colormap name.
    size : (height, width) or None, keyword-only
        Resize the result (the boxes are scaled with it).

    Returns
    -------
    bytes
        A PNG file.

    Examples
    --------
    >>> import numpy as np
    >>> png = overlay_png(np.zeros((8, 8, 3), np.uint8), np.eye(8), boxes=[(1, 1, 4, 4)])
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    import matplotlib
    from PIL import Image, ImageDraw

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1]; got {alpha}.")
    picture = np.asarray(image)
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=2)
    if picture.ndim != 3 or picture.shape[2] not in (1, 3, 4):
        raise ValueError(f"image must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); "
                         f"got shape {picture.shape}.")
    if picture.shape[2] == 1:
        picture = np.repeat(picture, 3, axis=2)
    picture = picture[..., :3]
    if picture.dtype != np.uint8:
        picture = np.clip(picture, 0, 255).astype(np.uint8)
    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.ndim != 2:
        raise ValueError(f"heatmap must be 2-D (h, w); got shape {heat.shape}.")
    height, width = picture.shape[:2]
    heat_img = Image.fromarray(np.nan_to_num(heat)).resize((width, height), Image.BILINEAR)
    heat = np.clip(np.asarray(heat_img), 0.0, 1.0)
    colors = matplotlib.colormaps[colormap](heat)[..., :3] * 255.0
    blended = (1.0 - alpha) * picture.astype(np.float32) + alpha * colors
    result = Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8))
    sx = sy = 1.0
    if size is not None:
        result = result.resize((size[1], size[0]), Image.BILINEAR)
        sx, sy = size[1] / width, size[0] / height
    draw = ImageDraw.Draw(result)
    for box in boxes:
        x0, y0, x1, y1 = box.as_tuple() if hasattr(box, "as_tuple") else box
        draw.rectangle([x0 * sx, y0 * sy, x1 * sx - 1, y1 * sy - 1], outline=box_color,
                       width=box_width)
    buffer = io.BytesIO()
    result.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
