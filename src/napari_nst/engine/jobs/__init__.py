"""Runs over many images: a stack's frames, a volume's planes, a folder batch, and the
result files they write. Each job is a ``stylize`` run."""
