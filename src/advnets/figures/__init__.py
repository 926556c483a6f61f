"""Pictures: sample grids, training curves, toy-data plots."""
