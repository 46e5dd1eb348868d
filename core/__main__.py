"""`python -m gitgov.core` runs the command line."""
from .cli import console

console()
