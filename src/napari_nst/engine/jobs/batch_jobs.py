"""What a batch run does: its jobs, where each result goes, and which are already done.

numpy only, no torch: the client side of a batch (the CLI, the widget) builds and
checks jobs before any worker starts.
"""

from __future__ import annotations

import glob
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .result_files import PNG_SUFFIXES, TIFF_SUFFIXES, write_json

IMAGE_SUFFIXES = (*PNG_SUFFIXES, *TIFF_SUFFIXES, ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


@dataclass(frozen=True)
class BatchJob:
    """One ``stylize`` call: a content (path or array) in a style, saved as ``name``.

    ``style`` is one image (path or array) or a list of ``(image, weight)``, and
    ``style_limits`` its contrast limits, as ``stylize`` takes them, and
    ``content_limits`` the content's (an array plane of a viewer's stack).
    ``plane`` picks one slice of a stack file (counted over its leading dims).
    """

    content: str | Path | np.ndarray
    style: object
    name: str
    plane: int | None = None
    style_limits: object = None
    content_limits: tuple[float, float] | None = None

    def read_content(self) -> np.ndarray:
        if not isinstance(self.content, (str, Path)):
            return np.asarray(self.content)
        image = read_image(self.content)
        if self.plane is None:
            return image
        return _planes(image)[self.plane]


def read_image(path: str | Path) -> np.ndarray:
    """An image file as an array; a missing, unreadable or empty file raises ValueError."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} is not a file.")
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            image = tifffile.imread(path)
        else:
            from skimage import io

            image = io.imread(path)
    except Exception as err:  # every reader has its own errors: one sentence for all
        kind = type(err).__name__
        raise ValueError(f"{path.name} could not be read as an image ({kind}).") from None
    if image.size == 0:
        raise ValueError(f"{path.name} holds an empty image.")
    return image


def jobs_from_inputs(inputs, style, style_limits=None) -> list[BatchJob]:
    """Jobs for files, folders (their images, sorted) and globs; a stack counts as slices."""
    paths: list[Path] = []
    for item in inputs:
        item = str(item)
        if Path(item).is_dir():
            paths += sorted(p for p in Path(item).iterdir() if _is_image(p))
        elif glob.has_magic(item):
            paths += sorted(Path(p) for p in glob.glob(item) if _is_image(Path(p)))
        else:
            paths.append(Path(item))  # a missing file fails alone, with its reason
    jobs, taken = [], set()
    for path in paths:
        stem = path.stem if path.stem not in taken else f"{path.stem}_{path.suffix[1:]}"
        taken.add(stem)
        count = _plane_count(path)
        if count is None:
            jobs.append(BatchJob(path, style, stem, style_limits=style_limits))
        else:
            width = len(str(count - 1))
            jobs += [
                BatchJob(path, style, f"{stem}_{i:0{width}d}", i, style_limits)
                for i in range(count)
            ]
    return jobs


def output_paths(output_dir: str | Path, job: BatchJob, file_format: str) -> tuple[Path, Path]:
    """The result image and its JSON sidecar."""
    folder = Path(output_dir)
    return folder / f"{job.name}.{file_format}", folder / f"{job.name}.json"


def fingerprint(job: BatchJob, params_dict: dict) -> str:
    """What decides a result: the inputs and the parameters (resume compares it)."""
    described = {
        "content": _describe(job.content),
        "plane": job.plane,
        "style": _describe_style(job.style),
        "style_limits": job.style_limits,
        "params": params_dict,
    }
    if job.content_limits is not None:  # absent before it existed: older results still match
        described["content_limits"] = list(job.content_limits)
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def is_done(job: BatchJob, output_dir, file_format: str, job_fingerprint: str) -> bool:
    """The result and its sidecar exist, and the sidecar has this job's fingerprint."""
    image, sidecar = output_paths(output_dir, job, file_format)
    if not (image.is_file() and sidecar.is_file()):
        return False
    try:
        return json.loads(sidecar.read_text()).get("fingerprint") == job_fingerprint
    except (OSError, ValueError):
        return False


def check_writable(output_dir: str | Path) -> Path:
    """Create ``output_dir`` and write a probe there; ValueError in one sentence if not."""
    folder = Path(output_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / ".napari-nst-write-check.json", {})
        (folder / ".napari-nst-write-check.json").unlink()
    except OSError as err:
        raise ValueError(
            f"The output folder {folder} cannot be written ({err.strerror or err})."
        ) from None
    return folder


def _is_image(path: Path) -> bool:
    hidden = path.name.startswith(".")
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not hidden


def _plane_count(path: Path) -> int | None:
    """How many 2-D planes a stack file holds (None: a single image, or unreadable)."""
    if path.suffix.lower() not in TIFF_SUFFIXES or not path.is_file():
        return None
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            shape = tif.series[0].shape
    except Exception:  # unreadable here: the job reads it again and reports why
        return None
    lead = shape[:-3] if len(shape) >= 3 and shape[-1] in (3, 4) else shape[:-2]
    count = int(np.prod(lead)) if lead else 1
    return count if count > 1 else None


def _planes(image: np.ndarray) -> np.ndarray:
    rgb = image.ndim >= 3 and image.shape[-1] in (3, 4)
    plane_shape = image.shape[-3:] if rgb else image.shape[-2:]
    return image.reshape(-1, *plane_shape)


def _describe(image) -> object:
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            return [str(path.resolve()), None, None]
        stat = path.stat()
        return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]
    array = np.ascontiguousarray(image)
    return [list(array.shape), str(array.dtype), hashlib.sha256(array.tobytes()).hexdigest()]


def _describe_style(style) -> object:
    if isinstance(style, list):
        return [[_describe(image), float(weight)] for image, weight in style]
    return _describe(style)
