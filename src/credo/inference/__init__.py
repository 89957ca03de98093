"""Inference: pure init/step functions and the drivers that run them."""
