"""NECST head-to-head against separation (JPEG/WebP + LDPC or an ideal code)."""
