"""The contender: pastiche stepped in a child process, and our run on the same inputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from common import image_pair

BENCHMARKS = Path(__file__).resolve().parents[1]
# pastiche's objective in our parameters (the paper's layers and scale, no layout term):
# per-step times then compare the same network, and J is in pastiche's units.
PASTICHE_OBJECTIVE = {
    "loss_scale": "paper",
    "content_layer": "conv4_2",
    "style_layers": ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"),
    "layout_weight": 0.0,
    "normalized": False,
}


def prepared_pair(size: int, tmp: Path):
    """Content and style resized to the same H×W, saved as PNG for pastiche."""
    from skimage import io
    from skimage.transform import resize

    from napari_nst.engine.front.images import fit_size, to_rgb01

    content, style, name = image_pair()
    hw = fit_size(content.shape[:2], size)
    c = (resize(to_rgb01(content), hw, anti_aliasing=True) * 255).round().astype(np.uint8)
    s = (resize(to_rgb01(style), hw, anti_aliasing=True) * 255).round().astype(np.uint8)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)  # one shared white-noise start
    for fname, arr in (("c.png", c), ("s.png", s), ("n.png", noise)):
        io.imsave(tmp / fname, arr, check_contrast=False)
    return c, s, noise, name


def pastiche_artist(tmp: Path, alpha: float, beta: float, n_content: int, m_content: int):
    """pastiche set up to minimise the paper's J on the raw (unnormalised) VGG19.

    pastiche: content = cw·lw·mean((F−P)²), style = sw·lw_l·mean((F·Fᵀ/M − A/M)²).
    Paper:    α·½·Σ(F−P)² = α·½·N·M·mean(...), β·w_l·Σ(G−A)²/(4N²M²) = β·w_l/4·mean(...).
    """
    from pastiche.pastiche import PasticheArtist

    return PasticheArtist(
        str(tmp / "c.png"),
        [str(tmp / "s.png")],
        device="cpu",
        init=str(tmp / "n.png"),
        content_layers=["block4_relu2"],
        style_layers=[f"block{i}_relu1" for i in range(1, 6)],
        content_layer_weights=[0.5 * n_content * m_content * alpha],
        style_layer_weights=[beta * (1 / 5) / 4] * 5,
        style_weights=[1.0],
        content_weight=1.0,
    )


# pastiche runs in a child process of its own, stepped by the parent: the A/B steps
# still alternate, but glibc's malloc settings, which this process changes as the CLI
# does, stay out of pastiche's (docs/performance-notes.md).
PASTICHE_SERVER = """
import sys, time, torch
sys.path.insert(0, sys.argv[1])
from speed.pastiche import pastiche_artist
from napari_nst.engine.optimise.weights import CAFFE_MEAN_BGR
from pathlib import Path
t = time.perf_counter()
artist = pastiche_artist(Path(sys.argv[2]), *map(float, sys.argv[3:5]), *map(int, sys.argv[5:7]))
print(time.perf_counter() - t, artist.loss, flush=True)
for line in sys.stdin:
    if line.strip() == "draw":
        t = time.perf_counter()
        artist.draw()
        print(time.perf_counter() - t, artist.loss, flush=True)
    elif line.strip() == "save":
        bgr = artist.pastiche.detach()[0].clone()
        bgr += torch.tensor(CAFFE_MEAN_BGR).view(3, 1, 1)
        rgb = (bgr[[2, 1, 0]] / 255).clamp(0, 1).permute(1, 2, 0).contiguous()
        torch.save(rgb, Path(sys.argv[2]) / "pastiche_result.pt")
        print("saved", flush=True)
"""


class PasticheProcess:
    """A pastiche artist in a child process; ``draw()`` returns its seconds, timed there.

    ``setup_seconds``: building the artist (VGG19 and the targets), also timed there.
    """

    def __init__(self, tmp: Path, alpha: float, beta: float, n_content: int, m_content: int):
        args = [str(BENCHMARKS), str(tmp), str(alpha), str(beta), str(n_content), str(m_content)]
        self.tmp = tmp
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PASTICHE_SERVER, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.setup_seconds, self.loss = map(float, self.proc.stdout.readline().split())

    def draw(self) -> float:
        self.proc.stdin.write("draw\n")
        self.proc.stdin.flush()
        seconds, self.loss = map(float, self.proc.stdout.readline().split())
        return seconds

    def image(self) -> np.ndarray:
        """The current pastiche as RGB in [0, 1], H×W×3."""
        import torch

        self.proc.stdin.write("save\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()
        return torch.load(self.tmp / "pastiche_result.pt").numpy()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def ours(c, s, noise, alpha, beta, steps, **extra):
    from napari_nst import stylize

    return stylize(
        c,
        s,
        size=None,
        init=noise,
        alpha=alpha,
        beta=beta,
        steps=steps,
        seed=0,
        **{**PASTICHE_OBJECTIVE, **extra},
    )
