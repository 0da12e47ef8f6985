"""Judging what a model makes: metrics and reports, computed on generated and on training samples."""
