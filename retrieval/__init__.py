"""Answer suggestion: the knowledge base and the search over it."""
