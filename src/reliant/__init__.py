"""reliant: trustworthy, data-centric machine learning in one toolkit."""

__version__ = "0.1.0"
