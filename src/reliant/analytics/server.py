"""The web page: a FastAPI app over :class:`~reliant.analytics.service.AnalyticsService`.

The only module that imports FastAPI. Routes hold no logic; a user mistake
(:class:`~reliant.core.errors.UserError`, a malformed body) is an HTTP 4xx whose body is one
line of JSON, ``{"error": "..."}``. Charts and the timeline arrive as SVG drawn on the server
(vl-convert), so the page loads nothing from a CDN and runs no code it is sent.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from reliant.analytics.config import ServeConfig
from reliant.analytics.service import AnalyticsService
from reliant.core.errors import UserError

__all__ = ["create_app", "run_serve"]

class AskBody(BaseModel):
    question: str
    as_of: str | None = None


class ChartBody(BaseModel):
    request: str


PAGE = Path(__file__).resolve().parent / "templates" / "index.html"


def build_service(config: ServeConfig) -> AnalyticsService:
    from reliant.analytics.index import check_index_folder
    from reliant.analytics.time_resolution import parse_as_of
    from reliant.analytics.workflows import open_configured_index

    check_index_folder(config.index)
    table = values = None
    if config.table is not None:
        from reliant.analytics.tables import load_table

        table, values = load_table(config.table)
    index = open_configured_index(config)
    from reliant.analytics.planners import make_planner

    return AnalyticsService(index, table, values, parse_as_of(config.as_of) if config.as_of else None,
                            config.topics, config.retrieval, config.seed, make_planner(config.planning, config.seed))


def create_app(service: AnalyticsService):
    """The FastAPI app of one opened index."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse
    app = FastAPI(title="reliant analytics", docs_url=None, redoc_url=None)

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError):
        status = 404 if "no article with id" in exc.message else 400
        return JSONResponse({"error": exc.one_line()}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def bad_body(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body" and not isinstance(p, int)) or "body"
        return JSONResponse({"error": f"field '{where}': {first.get('msg', 'invalid')}"}, status_code=422)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        meta = service.index.meta
        return (PAGE.read_text(encoding="utf-8").replace("{{ARTICLES}}", str(meta["articles"]))
                .replace("{{FIRST}}", meta["first_day"]).replace("{{LAST}}", meta["last_day"])
                .replace("{{AS_OF}}", service.as_of.isoformat() if service.as_of else "")
                .replace("{{TABLE}}", "yes" if service.table is not None else ""))

    @app.post("/api/ask")
    def ask(body: AskBody) -> dict:
        return service.ask(body.question, body.as_of)

    @app.get("/api/article/{article_id}")
    def article(article_id: str) -> dict:
        return service.article(article_id)

    @app.get("/article/{article_id}", response_class=HTMLResponse)
    def article_page(article_id: str) -> str:
        import html

        a = service.article(article_id)
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(a['title'])}</title></head>"
                f"<body style='font-family:sans-serif;max-width:48em;margin:2em auto'>"
                f"<p><a href='/'>&larr; back</a></p><h1 id='title'>{html.escape(a['title'])}</h1>"
                f"<p id='meta' data-id='{html.escape(a['id'])}'>{html.escape(a['id'])} &middot; {a['date']}"
                f" &middot; {html.escape(a['source'])}</p><p id='text'>{html.escape(a['text'])}</p></body></html>")

    @app.get("/api/trends")
    def trends() -> dict:
        return service.trends()

    @app.post("/api/chart")
    def chart(body: ChartBody) -> dict:
        return service.chart(body.request)

    return app


def run_serve(config: ServeConfig) -> list[str]:
    """``reliant analytics serve``: the page on ``http://host:port`` until Ctrl-C (no run folder)."""
    service = build_service(config)
    import uvicorn

    print(f"serving {service.index.meta['articles']} articles on http://{config.host}:{config.port}", flush=True)
    uvicorn.run(create_app(service), host=config.host, port=config.port, log_level="warning")
    return ["server stopped"]
