"""Interactive views for notebooks: one module per explorer, each a thin ipywidgets view over a
pure renderer that can be called, tested and timed without a browser.

- :class:`LatentExplorer` (``ganlab.widgets.latent``): walks, directions and arithmetic in a
  trained generator's latent space, over :func:`ganlab.latent.render_png`.
- :class:`DynamicsExplorer` (``ganlab.widgets.dynamics``): the GAN game on 2-D points, stepped
  by hand through the real ``Trainer``, over :class:`ganlab.dynamics.Game2D` and
  :class:`ganlab.dynamics.FrameRenderer` (D's surface, G's gradient field, the history).

ipywidgets is imported only when an explorer is built, so ``import ganlab.widgets`` is cheap.

The latent-space mathematics and the shipped generators used to live in this module; they are
re-exported here so that ``from ganlab.widgets import slerp, load_pretrained`` keeps working.
Their homes are :mod:`ganlab.latent` and :mod:`ganlab.pretrained`.
"""

from __future__ import annotations

from ganlab.latent import (
    MODES,
    ArithmeticResult,
    Directions,
    generate,
    interpolate,
    lerp,
    path_through,
    png_grid,
    principal_directions,
    render_png,
    seeds_to_z,
    slerp,
    vector_arithmetic,
    walk_gif,
    walk_strip_png,
)
from ganlab.pretrained import (
    MANIFEST_NAME,
    PRETRAINED_DIR,
    PRETRAINED_FORMAT,
    PRETRAINED_VERSION,
    Pretrained,
    export_pretrained,
    load_pretrained,
    pretrained_names,
)
from ganlab.widgets.dynamics import DynamicsExplorer
from ganlab.widgets.latent import LatentExplorer

__all__ = [
    "MANIFEST_NAME",
    "MODES",
    "PRETRAINED_DIR",
    "PRETRAINED_FORMAT",
    "PRETRAINED_VERSION",
    "ArithmeticResult",
    "Directions",
    "DynamicsExplorer",
    "LatentExplorer",
    "Pretrained",
    "export_pretrained",
    "generate",
    "interpolate",
    "lerp",
    "load_pretrained",
    "path_through",
    "png_grid",
    "pretrained_names",
    "principal_directions",
    "render_png",
    "seeds_to_z",
    "slerp",
    "vector_arithmetic",
    "walk_gif",
    "walk_strip_png",
]
