"""The curation admin, one module per thing curated; importing the package (the admin's
autodiscovery does) registers them all."""

from tracker.papers.admin import duplicates, embeddings, labs, papers, sources

__all__ = ["duplicates", "embeddings", "labs", "papers", "sources"]
