"""core/handwriting."""
