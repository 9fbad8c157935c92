"""Shared services every capability builds on: errors, config, data IO, run directories,
reports, models, embeddings, k-NN, LLM backends and progress."""
