"""The campaign app: `create_app(settings)` builds one instance.

Routes are grouped by what they protect: pages and catalog (cacheable, served from an in-process
snapshot), carts and checkout (transactional, never cached), admin (bearer token, off without one),
probes and metrics (never faulted, never shed).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Cookie, Depends, FastAPI, Header, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import webhooks
from app.assets import IMMUTABLE, AssetManifest
from app.catalog import SKU_PATTERN, load_catalog
from app.db import Database
from app.faults import FaultRegistry, FaultRule, FaultSpec
from app.hotpaths import HotPaths
from app.metrics import AppMetrics
from app.pages import CatalogViews
from app.payments import CircuitBreaker, ResilientPayments, SandboxProvider
from app.responses import (
    ERROR,
    HTML,
    AttributionOut,
    CartCreatedOut,
    CartOut,
    ClearedOut,
    FaultsOut,
    HealthOut,
    OrderCreatedOut,
    OrderOut,
    ProductOut,
    ProductsOut,
    ReadyOut,
    VisitOut,
    WebhookOut,
    documented,
)
from app.runtime import (
    DatabaseUnavailable,
    InstrumentedRoute,
    JSONResponse,
    ObservabilityMiddleware,
    Runtime,
    error_response,
)
from app.settings import Settings
from app.shop import PaymentDown, Shop, ShopError
from peakops.metrics import WebhookResult

# Text that reaches the database: bounded, printable, no NUL (PostgreSQL refuses NUL in text).
SafeText = Annotated[str, Field(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]
Sku = Annotated[str, Path(pattern=SKU_PATTERN)]
EMAIL_PATTERN = r"^[^@\s\x00-\x1f]{1,64}@[^@\s\x00-\x1f]{1,200}\.[A-Za-z]{2,24}$"
PROMO_PATTERN = r"^\s*[A-Za-z0-9_-]{1,32}\s*$"
IDEMPOTENCY_PATTERN = r"^[\x21-\x7e]{8,200}$"
VISIT_FLUSH_SECONDS = 0.5
log = logging.getLogger("peakops.app")


class Utm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: SafeText | None = None
    medium: SafeText | None = None
    campaign: SafeText | None = None
    content: SafeText | None = None
    term: SafeText | None = None


class CartCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    influencer: SafeText | None = Field(
        default=None, description="Slug of the influencer whose link brought the visitor"
    )
    utm: Utm | None = None


class CartItemAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(pattern=SKU_PATTERN)
    quantity: int = Field(default=1, ge=1, le=100)


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cart_id: uuid.UUID
    email: str = Field(max_length=320, pattern=EMAIL_PATTERN)
    promo_code: str | None = Field(default=None, pattern=PROMO_PATTERN)


class Visit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    influencer: SafeText | None = None
    promo_code: SafeText | None = None
    utm: Utm | None = None


class WebhookEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
    type: str = Field(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")
    data: dict[str, Any] = Field(default_factory=dict)


def attribution_from_cookie(value: str | None) -> CartCreate | None:
    """The `peakops_attr` cookie the landing page's script sets; a malformed one is ignored, never an
    error: attribution is worth less than the purchase."""
    if not value:
        return None
    try:
        return CartCreate.model_validate_json(urllib.parse.unquote(value))
    except ValueError:
        return None


def create_app(settings: Settings | None = None, registry: CollectorRegistry | None = None) -> FastAPI:
    settings = settings or Settings()
    registry = registry or CollectorRegistry()
    # A broken seed must stop start-up here, before the server binds its port.
    seed = load_catalog(settings.catalog) if settings.catalog else None
    metrics = AppMetrics(registry)
    # Every series whose labels are known starts at 0: after a restart, rate() and absent() see them
    # before the first event, so no SLIMissing for an outcome nothing has produced yet.
    metrics.start_at_zero(seed, webhook_sources=sorted(settings.webhook_secrets))
    faults = FaultRegistry()
    database = Database(
        settings.resolved_database_url(), settings.database_pool_size, settings.database_max_overflow
    )
    payments = ResilientPayments(
        SandboxProvider(settings.payment_sandbox_latency_seconds, faults.payment_should_fail),
        metrics,
        timeout_s=settings.payment_timeout_seconds,
        max_attempts=settings.payment_max_attempts,
        backoff_s=settings.payment_backoff_seconds,
        breaker=CircuitBreaker(
            settings.payment_circuit_failure_threshold, settings.payment_circuit_reset_seconds
        ),
    )
    shop = Shop(
        database,
        payments,
        metrics,
        settings.catalog_cache_seconds,
        settings.catalog_stale_seconds,
        promo_should_fail=faults.promo_should_fail,
    )
    runtime = Runtime(settings=settings, metrics=metrics, shop=shop, faults=faults)
    assets = AssetManifest()
    views = CatalogViews(settings, assets)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if database.is_sqlite:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        await database.create_schema()
        if seed is not None:
            await shop.seed_if_empty(seed)
        flusher = asyncio.create_task(_flush_visits_forever(shop))
        runtime.ready = True
        try:
            yield
        finally:
            runtime.ready = False
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await shop.flush_visits()
            await database.dispose()

    app = FastAPI(
        title="peakops campaign app",
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=JSONResponse,
        docs_url=None,
        redoc_url=None,
        # /metrics is the app's telemetry; FastAPI's OpenTelemetry hooks stay off until a deployment
        # configures a collector, so an idle check does not sit on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.router.route_class = InstrumentedRoute
    app.state.runtime = runtime

    @app.exception_handler(ShopError)
    async def _shop_error(_request: Request, exc: ShopError) -> Response:
        headers = None
        if isinstance(exc, PaymentDown):
            headers = {"Retry-After": str(max(1, round(exc.extra.get("retry_after", 1))))}
        extra = {k: v for k, v in exc.extra.items() if k != "retry_after"}
        return error_response(exc.status, exc.message, headers=headers, **extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]), "problem": err["msg"]} for err in exc.errors()
        ]
        return error_response(422, "invalid request", problems=problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            # Starlette names only the first route that matched the path; list every method it has.
            headers = {"Allow": ", ".join(allowed_methods(request.app, request.url.path))}
        return error_response(exc.status_code, str(exc.detail), headers=headers)

    app.include_router(_probe_routes(runtime, registry))
    app.include_router(_page_routes(shop, views, assets))
    app.include_router(_shop_routes(shop, views))
    app.include_router(_admin_routes(runtime))
    app.include_router(_webhook_routes(runtime))
    # Added last = outermost: metrics see every request, including those the hot paths answer.
    app.add_middleware(HotPaths, runtime=runtime, views=views)
    app.add_middleware(DatabaseUnavailable)
    app.add_middleware(ObservabilityMiddleware, runtime=runtime)
    return app


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the API document gives `path` (HEAD wherever GET is, as Starlette answers it)."""
    methods: set[str] = set()
    for template, operations in app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods.update(method.upper() for method in operations)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


async def _flush_visits_forever(shop: Shop) -> None:
    while True:
        await asyncio.sleep(VISIT_FLUSH_SECONDS)
        await shop.flush_visits()  # drops and logs a batch the database refuses


# ---- probes and metrics -----------------------------------------------------------------------


def _probe_routes(runtime: Runtime, registry: CollectorRegistry) -> APIRouter:
    router = APIRouter(route_class=InstrumentedRoute, tags=["operations"])

    @router.get("/healthz", **documented({200: HealthOut}))
    async def healthz() -> Response:
        """Liveness: the process answers. Never depends on the database."""
        return JSONResponse({"status": "ok", "uptime_seconds": round(time.time() - runtime.started_at, 1)})

    @router.get("/readyz", **documented({200: ReadyOut, 503: ERROR}))
    async def readyz() -> Response:
        """Readiness: started and not draining. The database's reachability is reported, not required:
        every instance shares it, so failing readiness on it takes them all out of the balancer at once.
        The rehearsal's database_restart found that: HAProxy marked every server DOWN and paged, and
        pages that need no database failed too. Meanwhile the routes that need it answer 503 with
        Retry-After (app.runtime.DatabaseUnavailable)."""
        if runtime.draining or not runtime.ready:
            return error_response(503, "draining" if runtime.draining else "starting")
        database = "reachable"
        try:
            async with asyncio.timeout(1.0):
                await runtime.shop.db.ping()
        except Exception:  # a probe: whatever the reason, it is not reachable now
            database = "unreachable"
        return JSONResponse({"status": "ready", "database": database})

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


# ---- pages and assets -------------------------------------------------------------------------


def _page_routes(shop: Shop, views: CatalogViews, assets: AssetManifest) -> APIRouter:
    router = APIRouter(route_class=InstrumentedRoute, tags=["pages"])

    def html(answer: tuple[bytes, list[tuple[bytes, bytes]]], status: int = 200) -> Response:
        body, headers = answer
        response = Response(body, status_code=status)
        response.raw_headers = list(headers)
        return response

    @router.get("/", response_class=HTMLResponse)
    async def home() -> Response:
        """The shop's landing page without an influencer."""
        return html(views.landing(await shop.snapshot(), None))

    @router.get(
        "/c/{slug}", response_class=HTMLResponse, **documented({200: None, 404: HTML, 422: ERROR}, page=True)
    )
    async def landing(slug: Annotated[str, Path(max_length=200)]) -> Response:
        """An influencer's landing page; unknown slug: a 404 page."""
        snap = await shop.snapshot()
        influencer = snap.influencers.get(slug)
        if influencer is None:
            return html(views.not_found, 404)
        return html(views.landing(snap, influencer))

    @router.get(
        "/static/{name}",
        response_class=Response,
        **documented({200: None, 304: None, 404: ERROR, 422: ERROR}),
    )
    async def static(name: Annotated[str, Path(max_length=200)], request: Request) -> Response:
        asset = assets.assets.get(name)
        if asset is None:
            return error_response(404, "no such asset")
        headers = {"Cache-Control": IMMUTABLE, "ETag": asset.etag}
        if request.headers.get("if-none-match") == asset.etag:
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.content_type, headers=headers)

    return router


# ---- shop API ---------------------------------------------------------------------------------


def _shop_routes(shop: Shop, views: CatalogViews) -> APIRouter:
    router = APIRouter(prefix="/api", route_class=InstrumentedRoute, tags=["shop"])

    @router.get("/products", **documented({200: ProductsOut}))
    async def products() -> Response:
        """Listed products with stock (as of the catalog snapshot, at most about a second old)."""
        body, headers = views.products(await shop.snapshot())
        response = Response(body)
        response.raw_headers = list(headers)
        return response

    @router.get("/products/{sku}", **documented({200: ProductOut, 404: ERROR, 422: ERROR}))
    async def product(sku: Sku) -> Response:
        return JSONResponse((await shop.product(sku)).public())

    @router.get("/recommendations", **documented({200: ProductsOut, 422: ERROR, 503: ERROR}))
    async def recommendations(sku: Annotated[str | None, Query(pattern=SKU_PATTERN)] = None) -> Response:
        """Non-critical: shed first under overload."""
        snap = await shop.snapshot()
        picks = [p.public() for p in snap.listed() if p.sku != sku and p.stock > 0][:4]
        return JSONResponse({"products": picks})

    @router.post("/visits", **documented({202: VisitOut, 400: ERROR, 422: ERROR, 503: ERROR}))
    async def visit(body: Visit) -> Response:
        """Attribution beacon sent by the landing page's script. Non-critical: shed first."""
        utm = body.utm or Utm()
        promo = body.promo_code.strip().upper()[:32] if body.promo_code else None
        # Attributed only to an influencer the shop knows, as carts are: a made-up slug (any beacon can
        # be forged) would otherwise grow the report without bound.
        influencer = body.influencer if body.influencer in (await shop.snapshot()).influencers else None
        shop.record_visit(
            {
                "influencer_slug": influencer,
                "promo_code": promo,
                "utm_source": utm.source,
                "utm_medium": utm.medium,
                "utm_campaign": utm.campaign,
            }
        )
        return JSONResponse({"status": "recorded"}, status_code=202)

    @router.post("/carts", **documented({201: CartCreatedOut, 400: ERROR, 422: ERROR}))
    async def create_cart(
        body: Annotated[CartCreate | None, Body()] = None,
        peakops_attr: Annotated[
            str | None, Cookie(description="set by the landing page; a malformed one is ignored")
        ] = None,
    ) -> Response:
        """A new cart, attributed from the body or else from the landing page's first-party cookie."""
        body = body or attribution_from_cookie(peakops_attr) or CartCreate()
        utm = body.utm.model_dump(exclude_none=True) if body.utm else None
        cart_id = await shop.create_cart(body.influencer, utm)
        return JSONResponse({"cart_id": cart_id}, status_code=201)

    @router.get("/carts/{cart_id}", **documented({200: CartOut, 404: ERROR, 422: ERROR}))
    async def get_cart(cart_id: uuid.UUID) -> Response:
        return JSONResponse(await shop.cart(str(cart_id)))

    @router.post(
        "/carts/{cart_id}/items", **documented({200: CartOut, 400: ERROR, 404: ERROR, 409: ERROR, 422: ERROR})
    )
    async def add_item(cart_id: uuid.UUID, body: CartItemAdd) -> Response:
        return JSONResponse(await shop.add_item(str(cart_id), body.sku, body.quantity))

    @router.post(
        "/checkout",
        **documented(
            {201: OrderCreatedOut, 400: ERROR, 402: ERROR, 404: ERROR, 409: ERROR, 422: ERROR, 503: ERROR}
        ),
    )
    async def checkout(
        body: CheckoutRequest,
        idempotency_key: Annotated[str, Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_PATTERN)],
    ) -> Response:
        """Place an order. Retrying with the same Idempotency-Key returns the same order."""
        result = await shop.checkout(str(body.cart_id), body.email, body.promo_code, idempotency_key)
        order = result.order
        payload = {"order_id": order.id, "total": order.public()["total"], "currency": order.currency}
        headers = {"Idempotent-Replayed": "true"} if result.replayed else None
        return JSONResponse(payload, status_code=201, headers=headers)

    @router.get("/orders/{order_id}", **documented({200: OrderOut, 404: ERROR, 422: ERROR}))
    async def get_order(order_id: uuid.UUID) -> Response:
        return JSONResponse((await shop.order(str(order_id))).public())

    return router


# ---- admin ------------------------------------------------------------------------------------

# Every admin route: 401 without the right bearer token, 404 when the admin API is off (no token set).
ADMIN: dict[int, type[BaseModel] | str | None] = {401: ERROR, 404: ERROR}
# Declared as a security scheme, so the document says which routes need the token (and fuzzers check it).
ADMIN_BEARER = HTTPBearer(auto_error=False, description="PEAKOPS_ADMIN_TOKEN")


def _admin_guard(runtime: Runtime) -> Any:
    token = runtime.settings.admin_token

    async def require_admin(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(ADMIN_BEARER)],
    ) -> None:
        if token is None:
            raise StarletteHTTPException(404, "admin API disabled: set PEAKOPS_ADMIN_TOKEN")
        given = (credentials.credentials if credentials else "").encode("latin-1", errors="replace")
        if not hmac.compare_digest(given, token.get_secret_value().encode()):
            raise StarletteHTTPException(401, "admin token required", headers={"WWW-Authenticate": "Bearer"})

    return require_admin


def _admin_routes(runtime: Runtime) -> APIRouter:
    router = APIRouter(
        prefix="/api",
        route_class=InstrumentedRoute,
        dependencies=[Depends(_admin_guard(runtime))],
        tags=["admin"],
    )

    @router.get("/attribution", **documented({200: AttributionOut, **ADMIN}))
    async def attribution() -> Response:
        """Visits, carts, orders and revenue per influencer (synthetic orders excluded)."""
        return JSONResponse(await runtime.shop.attribution())

    def _faults_payload() -> dict[str, Any]:
        active = runtime.faults.active()
        runtime.metrics.faults_active.set(len(active))
        return {"faults": [rule.model_dump() for rule in active]}

    @router.get("/admin/faults", **documented({200: FaultsOut, **ADMIN}))
    async def list_faults() -> Response:
        return JSONResponse(_faults_payload())

    @router.post("/admin/faults", **documented({201: FaultRule, 400: ERROR, 422: ERROR, **ADMIN}))
    async def add_fault(spec: FaultSpec) -> Response:
        rule: FaultRule = runtime.faults.add(spec)
        _faults_payload()
        return JSONResponse(rule.model_dump(), status_code=201)

    @router.delete("/admin/faults", **documented({200: ClearedOut, **ADMIN}))
    async def clear_faults() -> Response:
        cleared = runtime.faults.clear()
        _faults_payload()
        return JSONResponse({"cleared": cleared})

    @router.delete("/admin/faults/{rule_id}", **documented({200: ClearedOut, 422: ERROR, **ADMIN}))
    async def remove_fault(rule_id: Annotated[str, Path(max_length=64)]) -> Response:
        if not runtime.faults.remove(rule_id):
            return error_response(404, f"no fault rule {rule_id!r}")
        _faults_payload()
        return JSONResponse({"cleared": 1})

    return router


# ---- webhooks ---------------------------------------------------------------------------------


def _webhook_routes(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/api", route_class=InstrumentedRoute, tags=["webhooks"])
    settings = runtime.settings
    counter = runtime.metrics.webhook_events

    @router.post(
        "/webhooks/{source}",
        **documented({202: WebhookOut, 200: WebhookOut, 400: ERROR, 401: ERROR, 404: ERROR, 422: ERROR}),
    )
    async def receive(
        source: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")],
        request: Request,
        x_peakops_timestamp: Annotated[str | None, Header()] = None,
        x_peakops_signature: Annotated[str | None, Header()] = None,
    ) -> Response:
        """An event from an influencer platform or agency (e.g. `post.published`), HMAC-signed."""
        secret = settings.webhook_secrets.get(source)
        if secret is None:
            return error_response(404, f"no webhook configured for source {source!r}")
        body = await request.body()
        try:
            webhooks.verify(
                secret.get_secret_value(),
                x_peakops_timestamp,
                x_peakops_signature,
                body,
                time.time(),
                settings.webhook_tolerance_seconds,
            )
        except webhooks.SignatureError as exc:
            counter.labels(source, WebhookResult.REJECTED).inc()
            return error_response(401, f"invalid signature: {exc}")
        # One parse, by one strict parser: what is stored is what was validated.
        try:
            payload = webhooks.parse_payload(body)
        except webhooks.PayloadError as exc:
            counter.labels(source, WebhookResult.INVALID).inc()
            return error_response(422, f"body is not I-JSON (RFC 7493): {exc}")
        try:
            event = WebhookEvent.model_validate(payload)
        except ValueError:
            counter.labels(source, WebhookResult.INVALID).inc()
            return error_response(422, "body must be a JSON object with string 'id' and 'type'")
        stored = await runtime.shop.store_event(source, event.id, event.type, payload)
        counter.labels(source, WebhookResult.ACCEPTED if stored else WebhookResult.DUPLICATE).inc()
        if not stored:
            return JSONResponse({"status": "duplicate", "id": event.id}, status_code=200)
        return JSONResponse({"status": "accepted", "id": event.id}, status_code=202)

    return router
