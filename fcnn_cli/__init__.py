"""fcnn: a command-line experiment runner for fully connected neural networks."""

__version__ = "0.1.0"
