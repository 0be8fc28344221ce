"""Multimodal codecs: one latent for an image and its attributes (TELBO, JMVAE, bi-VCCA)."""

from njscc.models.multimodal.joint import JointVAE, product_of_experts

__all__ = ["JointVAE", "product_of_experts"]
