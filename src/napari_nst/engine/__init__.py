"""The style-transfer engine: pure PyTorch and numpy, no napari or Qt.

``params`` and ``images`` import no torch; ``weights``, ``network``, ``losses``
and ``run`` do, through ``_torch``, which first guards against the triton/Mesa
LLVM clash.
"""
