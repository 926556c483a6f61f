"""Data: IDX files, named sources with the paper's splits, toy distributions, the downloader."""

from advnets.data.idx import IDXError, read_idx
from advnets.data.sources import SOURCES, SPLITS, Dataset, load

__all__ = ["Dataset", "IDXError", "SOURCES", "SPLITS", "load", "read_idx"]
