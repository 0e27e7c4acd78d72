"""Data files shipped with the package (README.md says where each comes from)."""
