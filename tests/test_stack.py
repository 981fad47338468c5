"""Stacks: frames after frames, the previous result carried along the flow."""

import numpy as np
import pytest

from napari_nst.engine.jobs.stack import follow_flow, stylize_stack


def _panning(frames=3, size=48, step=2, dtype=np.float32):
    import skimage.data
    from skimage.transform import resize

    photo = resize(skimage.data.camera() / 255.0, (size, 2 * size), anti_aliasing=True)
    out = np.stack([photo[:, step * t : step * t + size] for t in range(frames)])
    if dtype == np.uint16:
        return (out * 65535).astype(np.uint16)
    return out.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.uint16])
def test_follow_flow_carries_the_previous_frame_onto_the_next(dtype):
    stack = _panning(dtype=dtype)
    limits = (0, 1) if dtype == np.float32 else None
    result = np.repeat(stack[0][..., None].astype(np.float32), 3, -1)
    if dtype == np.uint16:
        result /= 65535
    warped_frame, warped_result = follow_flow(stack[0], stack[1], result, limits)
    assert warped_frame.shape == stack[0].shape and warped_frame.dtype == stack[0].dtype
    assert warped_result.shape == result.shape and warped_result.dtype == np.float32
    inner = np.s_[4:-4, 4:-4]  # away from the edge that panning uncovers
    before = np.abs(stack[0].astype(float) - stack[1])[inner].mean()
    after = np.abs(warped_frame.astype(float) - stack[1])[inner].mean()
    assert after < 0.2 * before
    # The result (here the first frame itself) moves with the content: onto the second.
    target = stack[1] / 65535 if dtype == np.uint16 else stack[1]
    unmoved = np.abs(result[..., 0] - target)[inner].mean()
    assert np.abs(warped_result[..., 0] - target)[inner].mean() < 0.2 * unmoved


@pytest.mark.parametrize("flow", [False, True])
def test_later_frames_take_frame_steps_and_start_from_the_previous_result(flow):
    stack = _panning(frames=3, size=32)
    style = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    steps = list(
        stylize_stack(
            stack,
            style,
            content_limits=(0, 1),
            size=32,
            steps=3,
            frame_steps=1,
            learning_rate=1e-9,  # (almost) no change: each start is visible in the result
            optimizer="adam",
            flow=flow,
        )
    )
    assert [(n, s.iteration) for n, s in steps] == [(0, 1), (0, 2), (0, 3), (1, 1), (2, 1)]
    # Frame 1 starts from frame 0's result (carried along the flow), not from noise.
    start = steps[2][1].image
    if flow:
        start = follow_flow(stack[0], stack[1], start, (0, 1))[1]
    assert np.abs(steps[3][1].image - start).mean() < 0.01


def test_stop_keeps_the_frames_already_done():
    stack = _panning(frames=3, size=32)
    style = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    frames = set()

    def stop():
        return len(frames) > 1

    for n, _ in stylize_stack(
        stack, style, content_limits=(0, 1), size=32, steps=2, should_stop=stop
    ):
        frames.add(n)
    assert frames == {0, 1}


def test_frame_steps_is_checked_and_counted():
    from napari_nst.engine.front.params import StyleParams

    with pytest.raises(ValueError, match="frame_steps"):
        StyleParams(frame_steps=0)
    p = StyleParams(steps=10, frame_steps=3, scales=(64, 128))
    assert p.stack_steps(0) == 0 and p.stack_steps(1) == 10 and p.stack_steps(3) == 16
