"""The picture benchmark's images and pairs, and which pairs the defaults may be tuned on.

Contents and styles come from ../shared/data (the paper's Figure 2, a photo of a door,
abstract and figure paintings, a greyscale self-portrait) and scikit-image (photos, a dark
sky, microscopy, textures). ``TUNING`` pairs may be used to choose defaults; ``HELD_OUT``
pairs are only ever measured and reported. The split was fixed before any run on the
held-out pairs; do not move a pair from one list to the other after seeing its results.

``PUBLIC`` lists the images whose results may appear in the docs (../shared/data's
README: the others are for internal use only).
"""

from __future__ import annotations

from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

# name: (where, what it stands for in the set)
CONTENTS = {
    "tubingen": ("shared", "buildings by a river (Figure 2)"),
    "amber": (
        "shared",
        "an arched door in a stone wall (../shared/data's README calls it a portrait)",
    ),
    "astronaut": ("skimage", "a portrait photo (the sample pair's content)"),
    "chelsea": ("skimage", "an animal"),
    "coffee": ("skimage", "an object on a table"),
    "rocket": ("skimage", "a tall structure outdoors"),
    "camera": ("skimage", "a greyscale photo"),
    "hubble_deep_field": ("skimage", "a dark night-sky photo"),
    "immunohistochemistry": ("skimage", "a microscopy image (stained tissue)"),
    "retina": ("skimage", "a medical image, dark around the subject"),
    "brick": ("skimage", "a texture"),
}
STYLES = {
    "shipwreck": ("shared", "Turner (Figure 2)"),
    "starry_night": ("shared", "van Gogh (Figure 2)"),
    "the_scream": ("shared", "Munch, a figure painting with a face (Figure 2)"),
    "udnie": ("shared", "Picabia, an abstract"),
    "mosaic": ("shared", "a mosaic"),
    "rain-princess-cropped": ("shared", "Afremov, a figure painting"),
    "escher_sphere": ("shared", "Escher, a greyscale self-portrait"),
    "astronaut": ("skimage", "a portrait photo as the style (faces on buildings?)"),
    "immunohistochemistry": ("skimage", "a microscopy texture"),
    "hubble_deep_field": ("skimage", "a night sky (the sample pair's style)"),
    "gravel": ("skimage", "a greyscale texture"),
}

TUNING = [
    ("tubingen", "shipwreck"),
    ("tubingen", "starry_night"),
    ("tubingen", "the_scream"),
    ("chelsea", "immunohistochemistry"),
    ("astronaut", "hubble_deep_field"),
    ("tubingen", "astronaut"),
    ("coffee", "udnie"),
    ("hubble_deep_field", "starry_night"),
]
HELD_OUT = [
    ("rocket", "escher_sphere"),
    ("amber", "mosaic"),
    ("camera", "starry_night"),
    ("immunohistochemistry", "the_scream"),
    ("retina", "shipwreck"),
    ("brick", "rain-princess-cropped"),
    ("coffee", "gravel"),
    ("rocket", "the_scream"),
]

PUBLIC = {
    "tubingen",
    "shipwreck",
    "starry_night",
    "the_scream",
    "udnie",
    *(name for name, (where, _) in {**CONTENTS, **STYLES}.items() if where == "skimage"),
}


def load(name: str):
    """An image of the set as an array (shared images from ../shared/data)."""
    where = CONTENTS.get(name, STYLES.get(name, (None,)))[0]
    if where == "shared":
        from skimage import io

        return io.imread(SHARED / f"{name}.jpg")
    if where == "skimage":
        import skimage.data

        return getattr(skimage.data, name)()
    raise KeyError(f"{name} is not in the picture set")


def available() -> bool:
    """Whether ../shared/data is here (the set needs it; tests never do)."""
    return all((SHARED / f"{n}.jpg").is_file() for n, (w, _) in CONTENTS.items() if w == "shared")


def pairs(part: str = "all") -> list[tuple[str, str]]:
    """``part``: "tuning", "held-out" or "all"."""
    chosen = {"tuning": TUNING, "held-out": HELD_OUT, "all": TUNING + HELD_OUT}[part]
    return list(chosen)


def is_public(content: str, style: str) -> bool:
    return content in PUBLIC and style in PUBLIC
