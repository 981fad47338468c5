"""VGG19's geometry: its convolution layers by name, their widths and their sizes.

Plain Python (no torch): the parameters check layer names against it, the memory
estimate sizes feature maps with it, and the network and the weights are built by it.
"""

from __future__ import annotations

# The VGG19 convolution layers, in order, named as in the paper. A layer's
# features are taken after its ReLU (as in Gatys et al.'s Caffe code, where
# ReLU runs in place on the convolution's output).
VGG19_BLOCKS = (2, 2, 4, 4, 4)
VGG19_WIDTHS = (64, 128, 256, 512, 512)  # filters per conv, by block
CONV_LAYERS = tuple(
    f"conv{block}_{i}"
    for block, count in enumerate(VGG19_BLOCKS, start=1)
    for i in range(1, count + 1)
)
# The paper's style layers; the default leaves out conv5_1 (params.py says why).
PAPER_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")


def conv_shapes(h: int, w: int, deepest: str = "conv5_4"):
    """(name, in channels, out channels, height, width) of each conv up to ``deepest``.

    Height and width are those of the conv's input and output at an H×W image.
    """
    last, cin, index = CONV_LAYERS.index(deepest), 3, 0
    for block, (count, cout) in enumerate(zip(VGG19_BLOCKS, VGG19_WIDTHS)):
        for _ in range(count):
            if index > last:
                return
            yield CONV_LAYERS[index], cin, cout, h // 2**block, w // 2**block
            cin, index = cout, index + 1


def min_size_for(layers: tuple[str, ...]) -> int:
    """Smallest image side that still has at least one pixel at every layer."""
    deepest_block = max(int(name[4]) for name in layers)
    return 2 ** (deepest_block - 1)
