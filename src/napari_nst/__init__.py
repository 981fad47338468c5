"""napari-nst: neural style transfer (Gatys et al.) for napari.

Importing this package imports neither torch nor napari: the names below load
on first use.
"""

try:
    from ._version import version as __version__
except ImportError:  # a source tree without the generated version file
    __version__ = "0.0.0+unknown"

__all__ = [
    "BatchJob",
    "Guides",
    "Step",
    "StyleParams",
    "__version__",
    "jobs_from_inputs",
    "stylize",
    "stylize_batch",
    "stylize_in_viewer",
    "stylize_planes",
    "stylize_stack",
]

_LAZY = {
    "stylize": "napari_nst.engine.run",
    "Step": "napari_nst.engine.run",
    "StyleParams": "napari_nst.engine.front.params",
    "Guides": "napari_nst.engine.front.guides",
    "stylize_in_viewer": "napari_nst._qt.viewer_api",
    "stylize_stack": "napari_nst.engine.jobs.stack",
    "stylize_planes": "napari_nst.engine.jobs.planes",
    "stylize_batch": "napari_nst.engine.jobs.batch",
    "BatchJob": "napari_nst.engine.jobs.batch_jobs",
    "jobs_from_inputs": "napari_nst.engine.jobs.batch_jobs",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'napari_nst' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
