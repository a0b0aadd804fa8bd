"""parsecnas: neural architecture search in PyTorch, with PARSEC as its flagship method."""

from .spaces import Genotype, get_space, list_spaces, published_genotypes, resolve_genotype

__version__ = "0.1.0"

__all__ = ["Genotype", "__version__", "get_space", "list_spaces", "published_genotypes", "resolve_genotype"]
