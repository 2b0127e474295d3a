"""The FastAPI application: resources opened in the lifespan, routers, one error handler."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager, suppress
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline

from dashboards.pages import make_router, page_error
from dashboards.web import PageError, SignInNeeded
from service import operations
from service.admin import endpoints as admin_endpoints
from service.alerting import endpoints as alerting_endpoints
from service.alerting import twilio_routes
from service.database import database_conninfo, detect_mode, open_pool
from service.detection import endpoints as detection_endpoints
from service.errors import LinliError, TooManyRequests
from service.ingest import endpoints as ingest_endpoints
from service.jobs import Jobs
from service.metrics import Metrics
from service.migrate import migrate
from service.readings import endpoints as readings_endpoints
from service.settings import Settings
from service.throttle import Throttle
from service.web.store import WebStore

log = logging.getLogger(__name__)


def _json_safe(value: Any) -> Any:
    """`value` with NaN and infinities as text: JSON bodies may carry them (Python's parser
    reads them), but an answer that echoes them back could not be written."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def _one_message_or_field_errors(components: dict[str, Any]) -> None:
    """Document the 422 answer as it is: FastAPI's list of field errors when the request does
    not fit its declared types, or one message (`Invalid`) when its content is refused."""
    error = components.get("HTTPValidationError")
    if error is None:
        return
    fields = error["properties"]["detail"]
    error["properties"]["detail"] = {
        "title": "Detail",
        "anyOf": [
            {key: value for key, value in fields.items() if key != "title"},
            {"type": "string", "description": "Why the content was refused."},
        ],
    }


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. The database (embedded or LINLI_DATABASE_URL) opens when it starts."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with ExitStack() as stack:
            # Starting the embedded server blocks for about a second; keep the loop free.
            conninfo = await anyio.to_thread.run_sync(
                stack.enter_context, database_conninfo(settings)
            )
            if settings.migrate_on_start:
                report = await migrate(conninfo)
                if report.applied:
                    log.info("applied migrations: %s", ", ".join(report.applied))
            async with (
                open_pool(conninfo, settings) as pool,
                Jobs(pool, settings).opened() as jobs,
            ):
                async with pool.connection() as conn:
                    app.state.mode = await detect_mode(conn)
                app.state.pool = pool
                app.state.detection = jobs.detection
                app.state.alerting = jobs.alerting
                worker = asyncio.create_task(jobs.run_worker()) if settings.run_worker else None
                log.info("Linli ready; database mode %s", app.state.mode)
                try:
                    yield
                finally:
                    if worker is not None:
                        worker.cancel()
                        with suppress(asyncio.CancelledError):
                            await worker

    # The API pages (/docs, /redoc) load their scripts from the installed package, never from
    # a CDN: Linli runs on networks without Internet access.
    app = FastAPIOffline(
        title="Linli",
        summary="Home monitoring of elderly residents with hypertension and diabetes.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.throttle = Throttle(settings.bearer_failure_limit, settings.bearer_request_limit)

    @app.exception_handler(LinliError)
    async def linli_error(request: Request, exc: LinliError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError) -> Response:
        if not request.url.path.startswith(("/v1/", "/health", "/ready", "/metrics")):
            # A page asked for with a tampered address or form: the page's 404, no details.
            return await page_error(request, PageError(404, "Not found."))
        # FastAPI's own answer, except that a NaN in the input is no longer a 500.
        errors = _json_safe(jsonable_encoder(exc.errors()))
        return JSONResponse({"detail": errors}, status_code=422)

    app.include_router(operations.router)
    app.include_router(ingest_endpoints.router)
    app.include_router(readings_endpoints.router)
    app.include_router(detection_endpoints.router)
    app.include_router(alerting_endpoints.router)
    app.include_router(twilio_routes.router)
    app.include_router(admin_endpoints.router)
    # The pages for doctors and families, reading through the service's own queries.
    secure = (settings.public_url or "").startswith("https://")
    app.include_router(make_router(WebStore(lambda: app.state.pool), secure_cookies=secure))
    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(SignInNeeded, page_error)
    operations.answer_503_while_the_database_is_away(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in ingest_endpoints.EXTRA_SCHEMAS:
                extra = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(extra.pop("$defs", {}))
                components[model.__name__] = extra
            _one_message_or_field_errors(components)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
