"""The napari side without Qt: layers to arrays, the output layer, a run's evented
status, the console API, the writer, the sample data and the launcher. No maths."""
