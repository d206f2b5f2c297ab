"""The HTTP service: thin routes over triage and retrieval."""
