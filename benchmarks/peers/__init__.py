"""Peer implementations of the seed workflow (PyMC, NumPyro, hand-written JAX).

See ``run_peers`` for running them; each ``*_tutorial.py`` / ``jax_hand.py`` is a
standalone script printing one JSON line.
"""
