"""folding: protein structure prediction with AlphaFold2 in JAX/Haiku.

Importing the package has no side effects: no environment variables are set, no
device is initialised and no heavy dependency is imported.
"""

__version__ = "0.1.0"
