"""The package version, importable by any stage without importing the package root."""

__version__ = "0.1.0"
