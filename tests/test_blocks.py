"""Block by block, the whole image's J and ∇J: exact, and used where a stage does not fit."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from napari_nst.engine.front.guides import Guides  # noqa: E402
from napari_nst.engine.front.params import StyleParams  # noqa: E402
from napari_nst.engine.front.vgg19_layers import PAPER_STYLE_LAYERS  # noqa: E402
from napari_nst.engine.optimise import shallow_blocks  # noqa: E402
from napari_nst.engine.optimise.blocks import (  # noqa: E402
    GRID,
    BlockedImage,
    WholeImage,
    block_grid,
    halo_for,
)
from napari_nst.engine.optimise.network import cached_features  # noqa: E402
from napari_nst.engine.optimise.objective import (  # noqa: E402
    Objective,
    stage_targets,
    style_grams,
    style_layers_used,
    with_range_wall,
)
from napari_nst.engine.optimise.shallow_blocks import (  # noqa: E402
    SHALLOW_HALO,
    ShallowBlocks,
    blocks_of,
)

HW = (208, 256)  # not a multiple of the grid in height: the last row of blocks is short
INNER = 64  # 4×4 blocks


def _tensor(image, hw, grey=False):
    from skimage.transform import resize

    from napari_nst.engine.front.images import rgb_to_yiq, to_rgb01

    x = resize(to_rgb01(image), hw, anti_aliasing=True).astype(np.float32)
    if grey:
        return torch.from_numpy(rgb_to_yiq(x)[..., :1].copy()).permute(2, 0, 1)[None]
    return torch.from_numpy(x).permute(2, 0, 1)[None]


def _features(params):
    net, _ = cached_features(params.weights, params.deepest_layer, "max", False, "cpu")

    def features(x, names, **split):
        return net(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x, names, **split)

    return features


def _j_and_grad(params, network, guides=None, grey=False, seed=0):
    import skimage.data

    content = _tensor(skimage.data.chelsea(), HW, grey)
    style = _tensor(skimage.data.immunohistochemistry(), (160, 160), grey)
    layers = style_layers_used(params)
    per_style = [style_grams(network, style, layers), style_grams(network, style.flip(-1), layers)]
    targets = stage_targets(network, content, per_style, [1.0, 0.5], params)
    objective = Objective(params, network, targets, guides)
    x = torch.rand(content.shape, generator=torch.Generator().manual_seed(seed))
    x = (x * 1.1 - 0.05).requires_grad_(True)  # some pixels outside [0, 1]: the wall acts
    total, parts = objective(x)
    loss = with_range_wall(total, x)
    (grad,) = torch.autograd.grad(loss, x)
    return float(loss.detach()), grad, {k: float(v.detach()) for k, v in parts.items()}


def _compare(params, guides=None, grey=False, halo=None, blocks=BlockedImage):
    features = _features(params)
    halo = halo_for(params.deepest_layer) if halo is None else halo
    whole = _j_and_grad(params, WholeImage(features), guides, grey)
    blocked = _j_and_grad(params, blocks(features, INNER, halo), guides, grey)
    return whole, blocked


def _assert_equal(whole, blocked, tol=1e-5):  # the issue asks 1e-4; measured ~2e-7
    (jw, gw, pw), (jb, gb, pb) = whole, blocked
    assert abs(jb - jw) <= tol * abs(jw)
    for name in pw:
        assert pb[name] == pytest.approx(pw[name], rel=tol, abs=1e-12), name
    assert float((gb - gw).norm() / gw.norm()) <= tol
    # Every pixel, not only on average: the block borders are where it would go wrong.
    assert float((gb - gw).abs().max()) <= tol * float(gw.abs().max())


def test_the_grid_tiles_the_image_on_the_pooling_grid():
    grid = block_grid(HW, INNER, halo_for("conv5_1"))
    assert len(grid) >= 9
    covered = np.zeros(HW, int)
    for w in grid:
        covered[w.inner_rows, w.inner_cols] += 1
        assert w.inner_rows.start % GRID == 0 and w.inner_cols.start % GRID == 0
        assert w.rows.start % GRID == 0 and w.cols.start % GRID == 0
    assert (covered == 1).all()


@pytest.mark.parametrize(
    ("hw", "inner", "blocks"),
    [((1024, 1024), 768, 2), ((1024, 1024), 512, 4), ((2048, 2048), 1536, 2), (HW, INNER, 16)],
)
def test_the_grid_reads_fewest_pixels_in_blocks_no_larger_than_the_plans(hw, inner, blocks):
    # Where the memory allows more than a quarter, two halves read fewer pixels than four
    # quarters; no block is larger than the square one the memory plan counted.
    halo = halo_for("conv5_1")
    grid = block_grid(hw, inner, halo)
    assert len(grid) == blocks
    side = inner + 2 * halo
    allowed = min(hw[0], side) * min(hw[1], side)
    for w in grid:
        assert (w.rows.stop - w.rows.start) * (w.cols.stop - w.cols.start) <= allowed
        inner_area = (w.inner_rows.stop - w.inner_rows.start) * (
            w.inner_cols.stop - w.inner_cols.start
        )
        assert inner_area <= inner * inner


def test_the_halo_is_the_reach_of_the_deepest_layer():
    # conv5_1 reaches 2·1 + 2·2 + 4·4 + 4·8 + 1·16 = 70 px: 80 on the grid.
    assert halo_for("conv5_1") == 80
    assert halo_for("conv4_2") == 48  # 2 + 4 + 16 + 2·8 = 38


@pytest.mark.parametrize("loss_scale", ["gap", "paper"])
def test_blocked_j_and_gradient_equal_the_whole_images(loss_scale):
    params = StyleParams(loss_scale=loss_scale)
    _assert_equal(*_compare(params))


def test_blocked_equals_whole_with_region_guides():
    labels = np.zeros(HW, int)
    labels[:, 100:] = 1
    labels[150:, :50] = 2  # a region that falls across block borders
    guides = Guides(labels, styles={0: 0, 1: 1, 2: None})
    _assert_equal(*_compare(StyleParams(), guides=guides))


def test_blocked_equals_whole_in_luminance_mode():
    _assert_equal(*_compare(StyleParams(), grey=True))


def test_a_halo_short_of_the_reach_is_not_exact():
    # The check above can fail: one grid step less halo changes the border features.
    params = StyleParams()
    whole, blocked = _compare(params, halo=halo_for(params.deepest_layer) - GRID)
    with pytest.raises(AssertionError):
        _assert_equal(whole, blocked)


@pytest.mark.parametrize(
    "settings",
    # conv4_2: a deep content; the layout term is on the whole image's pixels
    [{}, {"loss_scale": "paper"}, {"content_layer": "conv4_2"}, {"layout_weight": 1.0}],
)
def test_fine_layers_in_blocks_equal_the_whole_image(settings):
    _assert_equal(*_compare(StyleParams(**settings), blocks=ShallowBlocks))


def test_fine_layers_in_blocks_equal_the_whole_image_in_luminance_mode():
    _assert_equal(*_compare(StyleParams(), grey=True, blocks=ShallowBlocks))


def test_fine_blocks_need_the_reach_of_the_fine_layers_only(monkeypatch):
    # conv3_4 reaches 2·1 + 2·2 + 4·4 = 22 px: 32 on the grid, against conv5_1's 80;
    # one grid step less is not exact.
    assert SHALLOW_HALO == 32 == halo_for("conv3_4")
    monkeypatch.setattr(shallow_blocks, "SHALLOW_HALO", SHALLOW_HALO - GRID)
    with pytest.raises(AssertionError):
        _assert_equal(*_compare(StyleParams(), blocks=ShallowBlocks))


def test_fine_blocks_run_the_deep_layers_once_on_the_whole_image():
    params = StyleParams()
    features, calls = _features(params), []

    def counted(x, names, **split):  # the targets' calls have no split: plain blocks
        calls.append((next(iter(split), "targets"), tuple(x.shape[-2:])))
        return features(x, names, **split)

    network = ShallowBlocks(counted, INNER, halo_for(params.deepest_layer))
    blocks = network.count(HW)
    assert blocks == len(block_grid(HW, INNER, SHALLOW_HALO))
    _j_and_grad(params, network)
    assert [c for c in calls if c[0] == "from_block"] == [("from_block", (HW[0] // 8, 32))]
    assert len([c for c in calls if c[0] == "upto_block"]) == 2 * blocks - 1


def test_an_evaluation_with_its_gradient_runs_one_block_forward_fewer():
    # Pass 1 keeps its last block's graph for pass 2: 2n − 1 forwards, not 2n; the
    # exactness checks above go through this path.
    params = StyleParams()
    features, calls = _features(params), []

    def counted(x, names):
        calls.append(tuple(x.shape[-2:]))
        return features(x, names)

    network = BlockedImage(counted, INNER, halo_for(params.deepest_layer))
    blocks = network.count(HW)
    _j_and_grad(params, network)
    targets = 2 * network.count((160, 160)) + blocks  # two styles' Gram matrices, the content
    assert len(calls) == targets + 2 * blocks - 1


def test_a_blocks_inner_part_passes_its_gradient_back_in_the_maps_layout():
    # NCHW gradients into a channels-last network cost a conversion at every layer.
    window = block_grid(HW, INNER, halo_for("conv5_1"))[5]
    block = torch.rand(
        1, 64, window.rows.stop - window.rows.start, window.cols.stop - window.cols.start
    )
    block = block.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    part = window.inner("conv1_1", block)
    assert torch.equal(part, window.inner("conv1_1", block.detach()))
    (grad,) = torch.autograd.grad(part.sum(), block)
    assert grad.is_contiguous(memory_format=torch.channels_last)
    assert grad.sum() == part.numel()


def run_hw(content, size):
    from napari_nst.engine.front.images import fit_size

    return fit_size(content.shape[:2], size)


@pytest.mark.parametrize(
    "checkpoint, evaluation",
    # Checkpointing is for the whole network's blocks: those run then.
    [(False, "fine blocks"), (True, "blocks")],
)
def test_a_stage_over_the_memory_limit_runs_in_blocks_with_the_same_result(
    small_pair, checkpoint, evaluation
):
    from napari_nst import stylize
    from napari_nst.engine.optimise.memory import block_side, blocked_bytes, stage_evaluation

    content, style = small_pair
    params = StyleParams(
        size=384,
        scales=None,
        steps=4,
        every=1,
        style_scale=0.5,
        checkpoint=checkpoint,
        style_layers=PAPER_STYLE_LAYERS,  # up to conv4_1 no deep part is left to run whole
    )
    hw = run_hw(content, 384)
    limit = 1.01 * blocked_bytes(hw, 128, params) / 2**30
    assert block_side(hw, params, int(limit * 2**30)) == 128
    how, side = stage_evaluation(hw, params, int(limit * 2**30))
    assert how == evaluation
    grid = blocks_of(hw, side, params.deepest_layer, how == "fine blocks")
    whole = list(stylize(content, style, params))
    blocked = list(stylize(content, style, params, memory_limit=limit))
    assert [s.blocks for s in whole] == [0] * 4
    assert [s.blocks for s in blocked] == [len(grid)] * 4
    assert blocked[-1].params.memory_limit == limit  # in the run's record
    assert np.abs(blocked[-1].image - whole[-1].image).max() < 2e-3
    assert blocked[-1].losses["total"] == pytest.approx(whole[-1].losses["total"], rel=1e-3)


def test_a_run_that_cannot_fit_even_in_blocks_is_refused_before_any_work(small_pair):
    from napari_nst import stylize

    with pytest.raises(ValueError, match=r"even in blocks.*memory_limit allows 0\.0 GiB"):
        stylize(*small_pair, size=256, memory_limit=0.001)
