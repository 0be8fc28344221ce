"""Files: the bitstream format, image reading/writing, results JSON, atomic writes."""
