"""The Qt side of napari-nst: the dock widget and its loss plot."""
