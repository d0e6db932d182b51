"""Harvesters: fetch from arXiv, OAI-PMH, feeds and pasted URLs; hand plain records on.

Entry points other code uses:
- `run.source_harvest(source)`: run one harvest of a source now, recorded as a HarvestRun.
- `arxiv.arxiv_query_validate(query)`: try a query against the API before saving it.
- `feeds.feed_url_validate(url)`: fetch a feed URL safely and check that it parses.
- `manual.paper_add(text)`: add one paper from an arXiv id or URL, or a lab report URL.
"""
