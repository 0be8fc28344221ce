"""vae codecs."""
