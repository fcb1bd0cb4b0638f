"""Files -> uint8 pairs: decoding, layouts, pairing, transforms, datasets, demo data."""

from .io import IMAGE_EXTENSIONS, read_image, write_image
from .layout import detect_layout, pair_by_stem, pair_key
from .sources import PairSource, available_splits, open_pairs

__all__ = [
    "IMAGE_EXTENSIONS",
    "PairSource",
    "available_splits",
    "detect_layout",
    "open_pairs",
    "pair_by_stem",
    "pair_key",
    "read_image",
    "write_image",
]
