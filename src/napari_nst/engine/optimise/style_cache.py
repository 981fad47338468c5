"""Style targets kept per process, so that a batch worker computes a style's Gram
matrices once for all its jobs rather than once per job.

A key names everything the Gram matrices depend on: the network (weights, depth,
pooling, normalisation, device, precision), the layers, the stage's size and the
style image's bytes. A few entries are kept (each a few MiB), the oldest dropped.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np

KEEP = 8


def digest(image: np.ndarray) -> str:
    """A name for an image's exact content (its shape, dtype and bytes)."""
    image = np.ascontiguousarray(image)
    h = hashlib.blake2b(str((image.shape, image.dtype.str)).encode(), digest_size=16)
    h.update(memoryview(image).cast("B"))
    return h.hexdigest()


class StyleGramCache:
    """The last ``keep`` values by key; ``hits`` and ``misses`` count the lookups."""

    def __init__(self, keep: int = KEEP):
        self.keep, self.hits, self.misses = keep, 0, 0
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], dict]) -> dict:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key]
        value = compute()  # outside the lock: a run in another thread need not wait
        with self._lock:
            self.misses += 1
            self._entries[key] = value
            while len(self._entries) > self.keep:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every entry and start counting anew."""
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0


STYLE_GRAMS = StyleGramCache()
