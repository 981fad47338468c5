import os

import numpy as np
import pytest

# The suite runs on pytest-xdist's workers (pyproject's addopts): each gets its share of
# the cores, since torch would take them all in every worker (set before torch loads).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))


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
    from napari_nst.engine.optimise import losses

    calls = []
    tv_loss = losses.tv_loss

    def failing(image):
        calls.append(image)
        return tv_loss(image) * (float("nan") if len(calls) >= 5 else 1.0)

    monkeypatch.setattr(losses, "tv_loss", failing)


@pytest.fixture
def messages():
    """Every napari notification shown during the test."""
    from napari.utils.notifications import notification_manager

    seen = []
    notification_manager.notification_ready.connect(seen.append)
    yield seen
    notification_manager.notification_ready.disconnect(seen.append)


@pytest.fixture
def photo_and_texture(make_napari_viewer):
    """A viewer with an RGB photo and a grey texture, and the widget set to run on them."""
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    viewer.add_image(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8), name="photo")
    viewer.add_image(
        rng.random((40, 40)).astype(np.float32), name="texture", contrast_limits=(0.2, 0.8)
    )
    _, widget = viewer.window.add_plugin_dock_widget("napari-nst", "Style Transfer")
    widget.content.value = viewer.layers["photo"]
    widget.style.value = viewer.layers["texture"]
    widget.size.value = 32
    widget.auto_stop.value = False  # exact step counts
    return viewer, widget


@pytest.fixture(scope="module")
def client():
    """A real 2-worker distributed.LocalCluster (one process, one thread each), per module."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
