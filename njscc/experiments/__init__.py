"""One module per study: ``run(config) -> result`` and ``plot(result)``."""
