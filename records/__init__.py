"""What happened to tickets after triage: resolved tickets with their final labels and the article
that solved them, and agents' and customers' feedback. Written by the API and `madoguchi ingest`,
read by training."""
