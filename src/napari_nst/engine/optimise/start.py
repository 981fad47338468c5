"""A run's first image: white noise, noise in the style's colours, the content, or a given
image."""

from __future__ import annotations

from ._torch import torch

UNIFORM_SPREAD = 12**0.5  # a uniform draw on [0, 1) has standard deviation 1/√12
MIN_SPREAD = 0.05  # a flat style still gives noise, not a flat start
STATISTICS_SIDE = 2048  # px: a larger style's statistics are read from every n-th pixel


def initial_image(params, content, init_image, styles, to_tensor, hw):
    """The first stage's start at size ``hw``; ``styles`` are (image, weight) pairs."""
    if params.init == "content":
        return content.clone()
    if params.init == "array":
        return to_tensor(init_image, hw)
    generator = torch.Generator()
    if params.seed is None:
        generator.seed()
    else:
        generator.manual_seed(params.seed)
    # Drawn on the CPU so a seed gives the same start on every device.
    uniform = torch.rand((1, content.shape[1], *hw), generator=generator)
    if params.init == "noise":  # white noise, the paper's start
        return uniform.to(content.device)
    mean, spread = style_statistics(styles, to_tensor, content.shape[1])
    spread = spread.clamp(min=MIN_SPREAD)
    noise = mean + spread * UNIFORM_SPREAD * (uniform - 0.5)
    return noise.clamp(0, 1).to(content.device)


def style_statistics(styles, to_tensor, channels):
    """The styles' weighted mean and standard deviation per channel, each 1×C×1×1.

    Noise with the style's own colours and spread does not have to be pulled to the
    style's brightness first: from white noise a dark style darkens the picture for
    hundreds of steps, and pins values at black on the way (docs/algorithm.md, "Dark
    photos turn light").
    """
    means, spreads, total = 0.0, 0.0, 0.0
    for image, weight in styles:
        every = -(-max(image.shape[:2]) // STATISTICS_SIDE)  # a few MB, not a huge style's GB
        image = image[::every, ::every]
        t = to_tensor(image, image.shape[:2]).cpu().double()
        if t.shape[1] != channels:  # a greyscale style for a colour run, or the reverse
            t = t.mean(dim=1, keepdim=True).expand(1, channels, *t.shape[-2:])
        means = means + weight * t.mean(dim=(0, 2, 3))
        spreads = spreads + weight * t.std(dim=(0, 2, 3))
        total += weight
    return (means / total).view(1, -1, 1, 1).float(), (spreads / total).view(1, -1, 1, 1).float()
