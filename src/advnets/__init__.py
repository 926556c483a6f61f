"""advnets: Generative Adversarial Nets (Goodfellow et al., 2014), faithful, reproducible, fast."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # advnets.load_generator without importing torch for `import advnets` (the CLI starts faster)
    if name == "load_generator":
        from advnets.sample import load_generator

        return load_generator
    raise AttributeError(f"module 'advnets' has no attribute {name!r}")
