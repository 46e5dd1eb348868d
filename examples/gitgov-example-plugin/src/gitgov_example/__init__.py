"""An example gitgov plugin."""
__version__ = "0.1.0"
