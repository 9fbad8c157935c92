"""Time-aware question answering over dated news, with citations, trends and charts (FALM).

After "FALM: Fortune Analytics Language Model" (arXiv 2406.06559; no official code): a
curated knowledge base of dated articles (``index``: Qdrant + BM25 hybrid retrieval with date
filters), questions answered relative to a reference date with every sentence cited as
``[article id, date]`` (``ask``), topics over time (``trends``), natural-language chart
requests turned into validated Vega-Lite specs (``chart``) and a web page (``serve``).

Import from :mod:`reliant.analytics.api`.
"""
