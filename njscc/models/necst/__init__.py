"""necst codecs."""
