"""The merchant's knowledge: reading FAQ files, syncing them into Chroma, hybrid retrieval."""
