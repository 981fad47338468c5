"""Compute the shipped normalisation factors of the bundled original VGG19.

Each filter's mean post-ReLU activation over the natural photographs that
scikit-image ships (astronaut, chelsea, coffee, rocket, camera; longer side
256 px), for max and for average pooling. Run from the repository root:

    python scripts/make_norm_factors.py
"""

from pathlib import Path

import numpy as np

from napari_nst.engine.optimise.network import NORM_FACTORS_FILE, mean_activations, natural_images
from napari_nst.engine.optimise.weights import load_weights

OUT = Path(__file__).resolve().parents[1] / "src/napari_nst/engine/data" / NORM_FACTORS_FILE


def main() -> None:
    weights = load_weights("vgg19-original")
    images = natural_images()
    arrays = {}
    for pooling in ("max", "avg"):
        for name, means in mean_activations(weights, images, pooling).items():
            arrays[f"{pooling}/{name}"] = means
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
