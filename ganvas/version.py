"""The version of ganvas, in a leaf module so that every layer can record it without importing the package."""

__version__ = "0.1.0"
