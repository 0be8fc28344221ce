"""Plain classifier codecs (no posterior): the subjects of the noise-injection studies."""
