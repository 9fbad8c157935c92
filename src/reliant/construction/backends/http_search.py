"""An HTTP search API: for every class of a design and each of its queries, GET a URL template
(``{query}`` URL-encoded, ``{page}`` from 1) that answers JSON; the result list sits at the
dotted ``--results-key`` and each result holds an image URL at ``--url-field``.

This is the paper's "search engine" stage made declarative: the queries come from the
(validated, user-editable) design; no code an LLM wrote is run. An answer that is not JSON,
or has no result list where ``--results-key`` says, is a one-line error (the template or key
is wrong, and collecting on would only gather nothing); a result without a URL is reported
and skipped.
"""

from __future__ import annotations

from urllib.parse import quote_plus

from reliant.construction.backends.base import CollectionBackend, Item, Plan, register
from reliant.construction.backends.http_client import FetchError, PoliteClient
from reliant.core.errors import DataError
from reliant.core.progress import track


def _dig(value, dotted: str):
    for key in [k for k in dotted.split(".") if k]:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def client_for(config) -> PoliteClient:
    return PoliteClient(timeout=config.timeout, retries=config.retries, rate_limit=config.rate_limit,
                        max_bytes=config.max_bytes)


@register
class HttpSearchBackend(CollectionBackend):
    name, label = "http", "HTTP search API (URL template answering JSON)"

    def plan(self, config) -> Plan:
        from reliant.construction.design import load_design

        design = load_design(config.design)
        classes = [c["name"] for c in design["classes"]]
        requests = [(c["name"], query, page) for c in design["classes"] for query in c["queries"]
                    for page in range(1, config.pages + 1)]
        items: list[Item] = []
        skipped: list[dict[str, str]] = []
        seen: set[str] = set()
        per_query: dict[tuple[str, str], int] = {}
        with client_for(config) as client:
            for label, query, page in track(requests, "search API queries"):
                url = config.url_template.replace("{query}", quote_plus(query)).replace("{page}", str(page))
                try:
                    answer = client.get_json(url)
                except FetchError as exc:
                    raise DataError(f"search API request failed: {exc}", file=url, field="url_template") from None
                except ValueError as exc:
                    raise DataError(f"search API {exc}", file=url, field="url_template") from None
                results = _dig(answer, config.results_key)
                if not isinstance(results, list):
                    raise DataError(f"search API answer has no list at {config.results_key!r} "
                                    f"(top-level keys: {', '.join(map(str, answer)) if isinstance(answer, dict) else type(answer).__name__})",
                                    file=url, field="results_key")
                for position, result in enumerate(results):
                    if per_query.get((label, query), 0) >= config.max_per_query:
                        break
                    image_url = _dig(result, config.url_field) if isinstance(result, (dict, list)) else None
                    if not isinstance(image_url, str) or not image_url.startswith(("http://", "https://")):
                        skipped.append({"url": url, "reason": f"result {position}: no http(s) URL at {config.url_field!r}"})
                        continue
                    if image_url in seen:  # the same image found by two queries: collect it once
                        continue
                    seen.add(image_url)
                    per_query[(label, query)] = per_query.get((label, query), 0) + 1
                    items.append(Item(label=label, url=image_url, where=f"query {query!r} page {page}"))
        if not items:
            raise DataError("the search API returned no image URLs for any query", file=config.url_template,
                            field="url_template")
        return Plan(classes=classes, items=items, skipped=skipped)
