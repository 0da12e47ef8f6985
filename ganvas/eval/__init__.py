"""Judging what a model makes: metrics and reports."""
