"""The style-transfer engine: pure PyTorch and numpy, no napari or Qt.

- ``run.stylize``: the one entry; it checks a run and then starts the loop (the only
  import across the torch line). ``engine_thread``: where the viewer's runs compute.
- ``front/``: what a run takes and reports; no torch.
- ``optimise/``: one run's optimisation in PyTorch (through ``_torch``, which first
  guards against the triton/Mesa LLVM clash).
- ``on_dask/``: a Dask cluster, and a blocked stage's passes on it.
- ``jobs/``: runs over many images (stacks, planes, folder batches).
"""
