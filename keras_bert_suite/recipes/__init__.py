"""Task recipes: read data files, decode predictions, score them, write result files."""
