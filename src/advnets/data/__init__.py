"""Data: IDX files, named sources with the paper's splits, toy distributions, the downloader."""

from advnets.data.idx import IDXError, read_idx
from advnets.data.sources import SOURCES, SPLITS, Dataset, from_config, load

__all__ = ["SOURCES", "SPLITS", "Dataset", "IDXError", "from_config", "load", "read_idx"]
