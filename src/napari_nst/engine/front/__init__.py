"""The torch-free front: what a run takes (parameters, images, guides) and what it
reports (steps, progress, errors). Importing it loads no torch."""
