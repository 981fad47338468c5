"""Sample content/style pairs from images that scikit-image ships (offline)."""

from __future__ import annotations


def _pair(content: str, style: str, content_label: str, style_label: str):
    import skimage.data

    return [
        (getattr(skimage.data, content)(), {"name": f"{content_label} (content)"}, "image"),
        (getattr(skimage.data, style)(), {"name": f"{style_label} (style)"}, "image"),
    ]


def astronaut_hubble():
    return _pair("astronaut", "hubble_deep_field", "astronaut", "Hubble deep field")


def chelsea_ihc():
    return _pair("chelsea", "immunohistochemistry", "chelsea", "IHC stain")


def coffee_brick():
    return _pair("coffee", "brick", "coffee", "brick")
