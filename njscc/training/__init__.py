"""Training: the :class:`Trainer`, its config, checkpoints and distributed runs."""
