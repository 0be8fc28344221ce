"""Separation baselines: image codecs (JPEG/WebP) + channel codes (LDPC, ideal)."""

__all__: list[str] = []
