import numpy as np
import pytest


@pytest.fixture(scope="session")
def small_pair():
    """A content photo and a texture style that scikit-image ships (no network)."""
    import skimage.data

    return skimage.data.chelsea(), skimage.data.gravel()


@pytest.fixture
def rng():
    return np.random.default_rng(0)
