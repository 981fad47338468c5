import numpy as np
import pytest


@pytest.fixture(scope="session")
def small_pair():
    """A content photo and a texture style that scikit-image ships (no network)."""
    import skimage.data

    return skimage.data.chelsea(), skimage.data.gravel()


@pytest.fixture(scope="session")
def losses_of():
    """The losses of a start image itself (``init``: an image, "noise" or "content").

    One Adam step reports the losses of the point it starts from; nothing is optimised.
    """
    from napari_nst import stylize

    def measure(content, style, init, **params):
        once = {**params, "steps": 1, "every": 1, "optimizer": "adam", "learning_rate": 1e-30}
        return next(stylize(content, style, init=init, **once)).losses

    return measure


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def nan_from_the_fifth_tv_loss(monkeypatch):
    """Make the TV term NaN from its 5th evaluation on: a run that diverges at step 5.

    L-BFGS takes such steps back and Adam's iterates stay in [0, 1], so a real
    divergence is hard to provoke; this one is injected (use it with Adam).
    """
    from napari_nst.engine import losses

    calls = []
    tv_loss = losses.tv_loss

    def failing(image):
        calls.append(image)
        return tv_loss(image) * (float("nan") if len(calls) >= 5 else 1.0)

    monkeypatch.setattr(losses, "tv_loss", failing)
