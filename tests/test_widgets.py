"""ganlab.widgets, the package: cheap to import, and every name it exported before the split
into ganlab.latent, ganlab.pretrained and one module per explorer still works."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ganlab.latent
import ganlab.pretrained
import ganlab.widgets
import ganlab.widgets.latent

# The public names of the single-file ganlab/widgets.py, and where each lives now.
MOVED = {
    "ArithmeticResult": ganlab.latent, "Directions": ganlab.latent, "MODES": ganlab.latent,
    "generate": ganlab.latent, "interpolate": ganlab.latent, "lerp": ganlab.latent,
    "path_through": ganlab.latent, "png_grid": ganlab.latent,
    "principal_directions": ganlab.latent, "render_png": ganlab.latent,
    "seeds_to_z": ganlab.latent, "slerp": ganlab.latent, "vector_arithmetic": ganlab.latent,
    "walk_gif": ganlab.latent, "walk_strip_png": ganlab.latent,
    "Pretrained": ganlab.pretrained, "export_pretrained": ganlab.pretrained,
    "load_pretrained": ganlab.pretrained, "pretrained_names": ganlab.pretrained,
    "PRETRAINED_DIR": ganlab.pretrained, "MANIFEST_NAME": ganlab.pretrained,
    "PRETRAINED_FORMAT": ganlab.pretrained, "PRETRAINED_VERSION": ganlab.pretrained,
    "LatentExplorer": ganlab.widgets.latent,
}


@pytest.mark.parametrize("name", sorted(MOVED))
def test_old_names_still_import_from_ganlab_widgets(name):
    assert getattr(ganlab.widgets, name) is getattr(MOVED[name], name)
    assert name in ganlab.widgets.__all__


def test_import_is_light():
    code = ("import sys, ganlab, ganlab.training; assert 'ganlab.widgets' not in sys.modules;"
            " import ganlab.widgets; assert 'ipywidgets' not in sys.modules, 'ipywidgets';"
            " assert 'matplotlib' not in sys.modules, 'matplotlib'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_shipped_generators_sit_beside_their_registry():
    folder = ganlab.pretrained.PRETRAINED_DIR
    assert folder.name == "pretrained" and (folder / "__init__.py").is_file()
    assert (folder / ganlab.pretrained.MANIFEST_NAME).is_file()
    assert ganlab.pretrained.pretrained_names(), "no generator listed in manifest.json"
