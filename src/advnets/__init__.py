"""advnets: Generative Adversarial Nets (Goodfellow et al., 2014), faithful, reproducible, fast."""

__version__ = "0.1.0"
