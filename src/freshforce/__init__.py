"""freshforce keeps FreshBooks and Salesforce in step, in near real time."""

__all__ = ["__version__"]

__version__ = "0.1.0"
