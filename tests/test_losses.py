"""The loss terms against hand-computed values and finite differences."""

import pytest

torch = pytest.importorskip("torch")

from napari_nst.engine.optimise.losses import content_loss, gram, style_layer_loss, tv_loss  # noqa: E402


def test_content_loss_is_half_sum_of_squares():
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    p = torch.tensor([[[[0.0, 2.0], [1.0, 1.0]]]])
    # ½·(1² + 0² + 2² + 3²) = 7
    assert content_loss(f, p).item() == pytest.approx(7.0)


def test_gram_divides_by_positions():
    # N = 2 filters, M = 3 positions
    f = torch.tensor([[1.0, 2.0, 3.0], [0.0, 1.0, -1.0]]).reshape(1, 2, 1, 3)
    expected = torch.tensor([[14.0, -1.0], [-1.0, 2.0]]) / 3
    assert torch.allclose(gram(f), expected)


def test_style_layer_loss_matches_paper_formula():
    """E_l = 1/(4·N²·M²)·Σ(G − A)² with G = F·Fᵀ (not divided by M)."""
    torch.manual_seed(0)
    n, h, w = 3, 2, 5
    m = h * w
    f = torch.randn(1, n, h, w)
    a_feat = torch.randn(1, n, h, w)
    g_raw = f.reshape(n, m) @ f.reshape(n, m).T
    a_raw = a_feat.reshape(n, m) @ a_feat.reshape(n, m).T
    by_hand = ((g_raw - a_raw) ** 2).sum() / (4 * n**2 * m**2)
    assert style_layer_loss(gram(f), gram(a_feat)).item() == pytest.approx(
        by_hand.item(), rel=1e-6
    )


def test_style_layer_loss_tiny_example_by_hand():
    # N = 1, M = 2: F = [1, 1] -> G = 2; A from [2, 0] -> 4; E = (2 − 4)²/(4·1·4) = 0.25
    f = torch.tensor([1.0, 1.0]).reshape(1, 1, 1, 2)
    a = torch.tensor([2.0, 0.0]).reshape(1, 1, 1, 2)
    assert style_layer_loss(gram(f), gram(a)).item() == pytest.approx(0.25)


def test_masked_gram_is_gram_of_the_region():
    torch.manual_seed(1)
    f = torch.randn(1, 4, 3, 6)
    mask = torch.zeros(3, 6)
    mask[:, :2] = 1
    region = f[..., :2]
    assert torch.allclose(gram(f, mask), gram(region), atol=1e-6)


def test_tv_loss_by_hand():
    x = torch.tensor([[[[0.0, 1.0], [1.0, 3.0]]]])
    # horizontal: (1−0)² + (3−1)² = 5; vertical: (1−0)² + (3−1)² = 5
    assert tv_loss(x).item() == pytest.approx(10.0)


@pytest.mark.parametrize("term", ["content", "style", "tv"])
def test_gradients_match_finite_differences(term):
    torch.manual_seed(2)
    x = torch.randn(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    target = torch.randn(1, 3, 4, 5, dtype=torch.float64)

    def fn(inp):
        if term == "content":
            return content_loss(inp, target)
        if term == "tv":
            return tv_loss(inp)
        g = (inp.reshape(3, -1) @ inp.reshape(3, -1).T) / 20
        a = (target.reshape(3, -1) @ target.reshape(3, -1).T) / 20
        return style_layer_loss(g, a)

    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("term", ["tv", "range"])
def test_the_pixel_terms_equal_autograds_and_keep_only_the_image(term):
    from napari_nst.engine.optimise.losses import range_penalty

    torch.manual_seed(3)
    x = (torch.rand(1, 3, 9, 7, dtype=torch.float64) * 1.4 - 0.2).requires_grad_(True)
    if term == "tv":
        mine = tv_loss(x)
        dx, dy = x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]
        theirs = dx.pow(2).sum() + dy.pow(2).sum()
    else:
        mine = range_penalty(x, 0.1, 0.9)
        theirs = ((0.1 - x).relu().pow(2) + (x - 0.9).relu().pow(2)).mean()
    assert torch.allclose(mine, theirs)
    (g_mine,), (g_theirs,) = (torch.autograd.grad(j * 3.0, x) for j in (mine, theirs))
    assert torch.allclose(g_mine, g_theirs)
    assert torch.autograd.gradcheck(
        tv_loss if term == "tv" else lambda t: range_penalty(t, 0.1, 0.9), (x,)
    )
    saved = []  # what the term keeps for the backward pass: the image alone
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        tv_loss(x) if term == "tv" else range_penalty(x, 0.1, 0.9)
    assert len(saved) == 1 and saved[0] is x


def test_gram_and_max_pool_backward_match_autograd_in_both_layouts():
    import torch

    from napari_nst.engine.optimise.losses import gram
    from napari_nst.engine.optimise.network import LeanMaxPool2d

    x = torch.randn(1, 5, 8, 6)  # float32: gram() computes in fp32
    for layout in (torch.contiguous_format, torch.channels_last):
        a = x.clone(memory_format=layout).requires_grad_(True)
        b = x.clone().requires_grad_(True)
        ga = gram(a)
        gb = (b.reshape(5, -1) @ b.reshape(5, -1).t()) / 48
        assert torch.allclose(ga, gb, atol=1e-6)
        weights = torch.randn(5, 5)
        (da,) = torch.autograd.grad((ga * weights).sum(), a)
        (db,) = torch.autograd.grad((gb * weights).sum(), b)
        assert torch.allclose(da, db, atol=1e-6)
        pa = LeanMaxPool2d()(a)
        (dpa,) = torch.autograd.grad((pa**2).sum(), a)
        (dpb,) = torch.autograd.grad((torch.nn.functional.max_pool2d(b, 2, 2) ** 2).sum(), b)
        assert torch.allclose(dpa, dpb)


@pytest.mark.parametrize("block_rows", [1 << 16, 50])  # one block, and several
def test_gram_of_a_bf16_map_and_its_gradient_are_computed_in_fp32(block_rows, monkeypatch):
    import torch

    from napari_nst.engine.optimise import losses
    from napari_nst.engine.optimise.losses import gram

    monkeypatch.setattr(losses, "WIDEN_ROWS", block_rows)

    x = torch.randn(1, 6, 16, 12).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    a = x.clone().requires_grad_(True)
    ga = gram(a)
    # The product is widened to fp32: exactly the fp32 Gram matrix of the bf16 values,
    # not one rounded to bf16 (whose error would swamp the style loss near its optimum).
    wide = x.float().reshape(6, -1)
    assert ga.dtype == torch.float32
    assert torch.allclose(ga, wide @ wide.t() / 192, rtol=1e-6, atol=1e-6)
    weights = torch.randn(6, 6)
    (da,) = torch.autograd.grad((ga * weights).sum(), a)
    b = x.float().requires_grad_(True)
    (db,) = torch.autograd.grad((gram(b) * weights).sum(), b)
    # The backward product is fp32 too, rounded to bf16 only at the end (a bf16
    # product converged measurably worse): exactly the fp32 gradient, rounded.
    assert da.dtype == torch.bfloat16
    assert torch.equal(da, db.to(torch.bfloat16))


def test_the_layout_term_sees_where_the_light_lies_not_how_light():
    from napari_nst.engine.optimise.losses import coarse_luminance, layout_loss

    torch.manual_seed(4)
    photo = torch.rand(1, 3, 48, 64)
    photo[..., :24, :] *= 0.2  # a dark top half: a night sky over a lit ground
    target = coarse_luminance(photo)
    assert target.shape == (1, 1, 12, 16)  # 16 cells along the longer side
    # A brighter, flatter copy keeps the layout; the same photo upside down does not.
    assert float(layout_loss(0.3 + 0.5 * photo, target)) == pytest.approx(0.0, abs=1e-6)
    flipped = float(layout_loss(photo.flip(-2), target))
    assert flipped > 1.0
    # 2·(1 − r), r the correlation of the two grids of cell means.
    a, b = coarse_luminance(photo.flip(-2)).flatten(), target.flatten()
    r = torch.corrcoef(torch.stack([a, b]))[0, 1]
    assert flipped == pytest.approx(float(2 * (1 - r)), rel=1e-4)
    # A grey (one-channel) image is its own luminance.
    grey = (photo * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    assert torch.allclose(coarse_luminance(grey), target, atol=1e-5)
    x = torch.rand(1, 3, 48, 64, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: layout_loss(t, target.double()), (x,))


def test_the_layout_term_of_a_flat_image_has_a_finite_gradient():
    """A flat image (a flat style's start, a flat photo) has no layout: the term is
    finite and so is its gradient (it was NaN: the root's slope at 0 times the floor's 0)."""
    from napari_nst.engine.optimise.losses import coarse_luminance, layout_loss

    target = coarse_luminance(torch.rand(1, 3, 48, 64))
    flat = torch.ones(1, 3, 48, 64, requires_grad=True)
    layout_loss(flat, target).backward()
    assert torch.isfinite(flat.grad).all()
