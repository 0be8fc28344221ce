"""vib codecs."""
