"""One run's optimisation, in PyTorch: the weights, the network, the loss terms, the
optimisers and the loop over a pyramid's stages (``loop.start``), whole or in blocks."""
