"""/v1/webhooks: an admin key subscribes URLs to signed pushes of every change."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.params import JSONBody, Parameter

from service import schemas
from service.api.auth import SECURITY, require_key
from service.api.existing import unknown_ids
from service.api.params import PathId
from service.api.writing import JSON, body_type
from service.errors import Problem, invalid_parameter, not_found
from service.vocabulary import Role
from service.webhooks import store
from service.webhooks.outbound import Refused, check_url

ADMIN: dict[str, Any] = {"security": SECURITY, "tags": ["webhooks"]}


async def check_crisis(request: Request[Any, Any, Any], crisis_id: str | None) -> None:
    """422 naming `crisis_id` when it names no crisis, as a fact's body naming one is: such
    a subscription would never be sent anything."""
    if crisis_id is None:
        return
    invalid = await unknown_ids(request, {"crisis_id": ("crisis", crisis_id)})
    if invalid:
        detail = "; ".join(f"{p.name}: {p.reason}" for p in invalid)
        raise Problem(422, detail, kind="invalid-record", invalid=invalid)


class WebhookController(Controller):
    """Every route needs an admin key."""

    path = "/v1/webhooks"
    guards = [require_key]
    opt = {"role": Role.ADMIN}

    @post(
        "/",
        operation_id="CreateWebhook",
        summary="Subscribe a URL to changes",
        status_code=201,
        guards=[body_type],
        opt={"body": JSON, "shape": schemas.NewWebhook},
        **ADMIN,
    )
    async def create_webhook(
        self, request: Request[Any, Any, Any], data: JSONBody[schemas.NewWebhook]
    ) -> Response[schemas.CreatedWebhook]:
        """Every change after now of the given kinds (all when empty) and crisis (any when
        absent; one that does not exist is a 422) is POSTed to `url`, signed as Standard
        Webhooks says. The answer holds the signing `secret`, shown this once."""
        try:
            check_url(data.url, request.app.state.settings.webhook_allow_private)
        except Refused as exc:
            raise invalid_parameter("url", str(exc)) from None
        await check_crisis(request, data.crisis_id)
        async with request.app.state.write_pool.connection() as conn:
            created = await store.create(conn, data)
        return Response(
            created, status_code=201, headers={"Location": f"/v1/webhooks/{created.id}"}
        )

    @get("/", operation_id="ListWebhooks", summary="List webhooks", cache=False, **ADMIN)
    async def list_webhooks(self, request: Request[Any, Any, Any]) -> schemas.WebhookList:
        """Every subscription and how its deliveries stand (never its secret)."""
        async with request.app.state.write_pool.connection() as conn:
            return schemas.WebhookList(items=await store.listed(conn))

    @get(
        "/{webhook_id:str}",
        operation_id="GetWebhook",
        summary="Get a webhook",
        cache=False,
        **ADMIN,
    )
    async def get_webhook(
        self, request: Request[Any, Any, Any], webhook_id: PathId
    ) -> schemas.Webhook:
        """One subscription: its cursor, failures in a row, and whether it was disabled."""
        async with request.app.state.write_pool.connection() as conn:
            found = await store.get(conn, webhook_id)
        if found is None:
            raise not_found("webhook", webhook_id)
        return found

    @delete(
        "/{webhook_id:str}",
        operation_id="DeleteWebhook",
        summary="Delete a webhook",
        status_code=204,
        **ADMIN,
    )
    async def delete_webhook(self, request: Request[Any, Any, Any], webhook_id: PathId) -> None:
        """Nothing more is sent to it; a delivery in flight finishes first."""
        async with request.app.state.write_pool.connection() as conn:
            if not await store.delete(conn, webhook_id):
                raise not_found("webhook", webhook_id)

    @get(
        "/{webhook_id:str}/deliveries",
        operation_id="ListWebhookDeliveries",
        summary="List a webhook's delivery attempts",
        cache=False,
        **ADMIN,
    )
    async def list_deliveries(
        self,
        request: Request[Any, Any, Any],
        webhook_id: PathId,
        limit: Annotated[int, Parameter(ge=1, le=200, description="Attempts, newest first.")] = 50,
    ) -> schemas.DeliveryList:
        """Each attempt, newest first: the change's revision, the receiver's status and the
        start of its answer, or why no answer came."""
        async with request.app.state.write_pool.connection() as conn:
            if await store.get(conn, webhook_id) is None:
                raise not_found("webhook", webhook_id)
            return schemas.DeliveryList(items=await store.attempts(conn, webhook_id, limit))
