"""The adversarial training engine: one loop for every model and domain."""
