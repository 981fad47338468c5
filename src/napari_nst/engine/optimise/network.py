"""VGG19's convolutional stack as a feature extractor, truncated and normalised.

The architecture is VGG19's convolutional part, laid out as torchvision's
``vgg19().features`` (3×3 convolutions with ReLU, 2×2 pooling after each block), cut
after the deepest layer a run uses. It is built here, not imported from torchvision,
whose import pulls in triton (see ``_torch.py``). Weights come from ``weights.py``.

The paper's normalised network: each filter is rescaled so that its mean
activation over natural images and positions is 1. Because ReLU and pooling
commute with positive scaling, dividing filter c of layer l by m_c and
multiplying the matching input channel of layer l+1 by m_c leaves every later
layer's output unchanged. Only the activations the losses see change scale, so
that α/β means what it means in the paper.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import skimage.data
from skimage.transform import resize

from ..front.images import fit_size, to_rgb01
from ..front.vgg19_layers import CONV_LAYERS, VGG19_BLOCKS, VGG19_WIDTHS
from ._torch import torch
from .weights import WeightSet, load_weights, torchvision_conv_indices

nn = torch.nn

NORM_FACTORS_FILE = "vgg19-original_norm.npz"
NATURAL_IMAGES = ("astronaut", "chelsea", "coffee", "rocket", "camera")
CONV_POSITIONS = torchvision_conv_indices()


class VGGFeatures(nn.Module):
    """Preprocess an RGB [0, 1] batch and return the post-ReLU maps asked for."""

    def __init__(self, layers: nn.Sequential, preprocessing):
        super().__init__()
        self.layers = layers
        # A device buffer: indexing with a Python list would copy it to the GPU
        # (a host sync) at every forward, and cannot be captured in a CUDA graph.
        self.register_buffer("channel_order", torch.tensor(preprocessing.channel_order))
        self.register_buffer("scale", torch.tensor(preprocessing.scale).view(1, 3, 1, 1))
        self.register_buffer("offset", torch.tensor(preprocessing.offset).view(1, 3, 1, 1))
        # Sequential index of each conv's ReLU: where its features are read.
        self.relu_index = {
            name: p + 1 for name, p in zip(CONV_LAYERS, CONV_POSITIONS) if p + 1 < len(layers)
        }
        self.channels_last = False
        self.narrow_at, self.narrow_dtype = None, None

    def narrow_after_first_conv(self, dtype) -> VGGFeatures:
        """Run every layer after conv1_1 (and its ReLU) in ``dtype``, conv1_1 in fp32.

        Fast mode's input in bf16 would be rounded to ~1/256 of its value (a grey
        level near white), so the network could not see a step finer than that;
        conv1_1 has 3 input channels and costs ~0.3% of the network's FLOPs.
        """
        for layer in list(self.layers)[1:]:  # the preprocessing's buffers stay fp32 too
            layer.to(dtype)
        self.narrow_at, self.narrow_dtype = self.relu_index["conv1_1"] + 1, dtype
        return self

    def _run_layer(self, i, x):
        if i == self.narrow_at:
            x = x.to(self.narrow_dtype)
        return self.layers[i](x)

    def use_channels_last(self) -> VGGFeatures:
        """NHWC activations and weights: faster convolutions with oneDNN and cuDNN."""
        self.to(memory_format=torch.channels_last)
        self.channels_last = True
        return self

    def forward(
        self, x, names, checkpoint: bool = False, upto_block=None, from_block=None
    ) -> dict | tuple:
        """Features at ``names``; ``checkpoint`` trades compute for memory on big images.

        A split run (``shallow_blocks.py``): ``upto_block=k`` stops at block k's pooling and
        returns (features, its pooled map); ``from_block=k`` takes that map as ``x``.
        """
        wanted = {self.relu_index[n]: n for n in names}
        start = 0 if from_block is None else self.pool_index(from_block) + 1
        if start == 0:
            x = x.index_select(1, self.channel_order) * self.scale - self.offset
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if checkpoint and x.requires_grad and start == 0 and upto_block is None:
            return self._forward_checkpointed(x, wanted)
        out = {}
        last = self.pool_index(upto_block) if upto_block is not None else max(wanted)
        for i in range(start, len(self.layers)):
            x = self._run_layer(i, x)
            if i in wanted:
                out[wanted[i]] = x
            if i == last:
                break
        return out if upto_block is None else (out, x)

    def pool_index(self, block: int) -> int:
        """Sequential index of the pooling after VGG block ``block`` (1-based)."""
        pools = [i for i, layer in enumerate(self.layers) if isinstance(layer, _POOLS)]
        return pools[block - 1]

    def _forward_checkpointed(self, x, wanted: dict) -> dict:
        # One segment per VGG block: only block outputs stay in memory, and each
        # block runs again during the backward pass.
        last = max(wanted)
        ends = [i for i, layer in enumerate(self.layers) if isinstance(layer, _POOLS) and i < last]
        out, start = {}, 0
        for end in [*ends, last]:
            idx = range(start, end + 1)
            names = [wanted[i] for i in idx if i in wanted]
            x, *caught = torch.utils.checkpoint.checkpoint(
                self._segment, x, idx, wanted, use_reentrant=False
            )
            out.update(zip(names, caught))
            start = end + 1
        return out

    def _segment(self, x, idx, wanted):
        caught = []
        for i in idx:
            x = self._run_layer(i, x)
            if i in wanted:
                caught.append(x)
        return (x, *caught)


class _MaxPoolFn(torch.autograd.Function):
    """2×2 max pooling that keeps no index map for the backward pass.

    torch's max pooling saves int64 indices, half the size of its input map (134 MiB
    after the first block at 1024 px); here the backward finds them again from the
    input, which the ReLU before it keeps anyway.
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.nn.functional.max_pool2d(x, 2, 2)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        _, indices = torch.nn.functional.max_pool2d(x, 2, 2, return_indices=True)
        return torch.ops.aten.max_pool2d_with_indices_backward(
            grad, x, [2, 2], [2, 2], [0, 0], [1, 1], False, indices
        )


class LeanMaxPool2d(nn.MaxPool2d):
    """VGG's 2×2/2 max pooling, with the lean backward of ``_MaxPoolFn``."""

    def __init__(self):
        super().__init__(kernel_size=2, stride=2)

    def forward(self, x):
        return _MaxPoolFn.apply(x) if x.requires_grad else super().forward(x)


_POOLS = (nn.MaxPool2d, nn.AvgPool2d)


def build_features(
    weights: WeightSet, deepest: str, pooling: str = "max", factors: dict | None = None
) -> VGGFeatures:
    """A frozen ``VGGFeatures`` on the CPU, truncated after ``deepest``'s ReLU."""
    keep = CONV_POSITIONS[CONV_LAYERS.index(deepest)] + 2
    # Built on the meta device: no time spent initialising weights we overwrite.
    with torch.device("meta"):
        layers = nn.Sequential(*_vgg19_layers(pooling)[:keep])

    convs = normalize_convs(weights.convs, factors) if factors else weights.convs
    state = {}
    for name, position in zip(CONV_LAYERS, CONV_POSITIONS):
        if position < keep:
            weight, bias = convs[name]
            state[f"{position}.weight"] = weight.clone()
            state[f"{position}.bias"] = bias.clone()
    layers.load_state_dict(state, assign=True)
    module = VGGFeatures(layers, weights.preprocessing)
    module.requires_grad_(False)
    return module.eval()


def _vgg19_layers(pooling: str) -> list:
    """VGG19's layers in torchvision's order: conv, ReLU, …, pool after each block."""
    layers, channels = [], 3
    for count, width in zip(VGG19_BLOCKS, VGG19_WIDTHS):
        for _ in range(count):
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
            channels = width
        layers.append(
            nn.AvgPool2d(kernel_size=2, stride=2) if pooling == "avg" else LeanMaxPool2d()
        )
    return layers


def normalize_convs(convs: dict, factors: dict) -> dict:
    """Rescale each filter by 1/(its mean activation) and compensate in the next layer."""
    out, previous = {}, None
    for name in CONV_LAYERS:
        weight, bias = convs[name]
        m = torch.as_tensor(np.asarray(factors[name]), dtype=weight.dtype)
        # A channel that never fires (mean 0) keeps its scale: nothing to normalise.
        m = torch.where(m > 0, m, torch.ones_like(m))
        weight, bias = weight / m[:, None, None, None], bias / m
        if previous is not None:
            weight = weight * previous[None, :, None, None]
        out[name] = (weight, bias)
        previous = m
    return out


def mean_activations(weights: WeightSet, images: list[np.ndarray], pooling: str) -> dict:
    """Per-channel mean post-ReLU activation of every layer over ``images``."""
    net = build_features(weights, CONV_LAYERS[-1], pooling)
    sums = dict.fromkeys(CONV_LAYERS, 0.0)
    with torch.inference_mode():
        for image in images:
            x = torch.from_numpy(image).permute(2, 0, 1)[None]
            feats = net(x, CONV_LAYERS)
            for name in CONV_LAYERS:
                sums[name] = sums[name] + feats[name].double().mean(dim=(0, 2, 3))
    return {name: (s / len(images)).numpy().astype(np.float32) for name, s in sums.items()}


def natural_images(longer_side: int = 256) -> list[np.ndarray]:
    """The natural photographs that scikit-image ships, as RGB floats in [0, 1]."""
    out = []
    for name in NATURAL_IMAGES:
        img = to_rgb01(getattr(skimage.data, name)())
        out.append(resize(img, fit_size(img.shape[:2], longer_side), anti_aliasing=True))
    return [np.ascontiguousarray(i, dtype=np.float32) for i in out]


@lru_cache(maxsize=4)
def norm_factors(source: str, pooling: str) -> dict:
    """Normalisation factors: shipped for the original VGG19, else computed once."""
    if source == "vgg19-original":
        ref = resources.files("napari_nst.engine.optimise") / "data" / NORM_FACTORS_FILE
        with ref.open("rb") as fh, np.load(fh, allow_pickle=False) as data:
            return {name: data[f"{pooling}/{name}"] for name in CONV_LAYERS}
    return mean_activations(load_weights(source), natural_images(), pooling)


def network_key(params, device) -> tuple:
    """What a network's features depend on: ``cached_features``'s arguments, and the key
    under which style targets computed with it are kept."""
    return (
        params.weights,
        params.deepest_layer,
        params.pooling,
        params.normalized,
        str(device),
        params.precision == "bf16",
    )


def rgb_features(net, checkpoint: bool = False):
    """``features(x, names)`` of ``net``, taking a grey (luminance) image as grey RGB."""

    def features(x, names, **split):
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        return net(x, names, checkpoint=checkpoint, **split)

    return features


@lru_cache(maxsize=2)
def cached_features(
    source: str, deepest: str, pooling: str, normalized: bool, device: str, bf16: bool = False
):
    """The network for one configuration, built once per process, device and precision.

    Fast mode keeps the weights in bfloat16 rather than autocasting fp32 weights at
    every step, and both run channels last (faster: docs/performance-notes.md).
    """
    weights = load_weights(source)
    factors = norm_factors(source, pooling) if normalized else None
    net = build_features(weights, deepest, pooling, factors).to(device=device)
    if bf16:
        net.narrow_after_first_conv(torch.bfloat16)
    if torch.device(device).type in ("cpu", "cuda"):
        net.use_channels_last()
    return net, weights
