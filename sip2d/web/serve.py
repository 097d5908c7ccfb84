"""Assembling and serving the PIN page: Hypercorn's trio worker in a nursery of ours.

:func:`build_web` wires the page from what a daemon already has (configuration, database
runner, hasher, metrics registry): the page gets its *own* :class:`PinGate` over the same
hasher and database, so its PIN checks share every counter and lock with the kiosks but run
argon2 behind their own limiter (``[web] hash_threads``); a burst on the page cannot queue in
front of a kiosk's check. :func:`serve_web` runs the page, its reset-link worker and the mail
sender until ``shutdown`` is set or the nursery is cancelled.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.middleware import ProxyFixMiddleware
from hypercorn.trio import serve
from prometheus_client import CollectorRegistry

from sip2d.auth.events import MetricsSink
from sip2d.auth.gate import PinGate
from sip2d.auth.hashing import PinHasher
from sip2d.auth.pin_secrets import SelfServiceKeys
from sip2d.auth.policy import PinPolicy
from sip2d.config import Config, parse_address
from sip2d.mail.sender import MailMetrics, MailSender
from sip2d.mail.transport import Transport, make_transport
from sip2d.storage.runner import DatabaseRunner
from sip2d.storage.sqltime import stored_now
from sip2d.web.app import PinPage, build_app, csrf_guard
from sip2d.web.flows import PinFlows

log = logging.getLogger("sip2d.web")


@dataclasses.dataclass
class WebParts:
    config: Config
    flows: PinFlows
    page: PinPage
    sender: MailSender
    app: object
    addresses: list[str] = dataclasses.field(default_factory=list)


def build_web(
    config: Config,
    db: DatabaseRunner,
    hasher: PinHasher,
    *,
    registry: CollectorRegistry | None = None,
    auth_metrics: MetricsSink | None = None,
    transport: Transport | None = None,
    clock: Callable[[], datetime] = stored_now,
) -> WebParts:
    web = config.web
    limiter = trio.CapacityLimiter(max(web.hash_threads, 1))
    gate = PinGate(hasher, config.throttle, db, limiter, metrics=auth_metrics)
    keys = SelfServiceKeys(hasher)
    sender = MailSender(
        config,
        db,
        keys,
        transport if transport is not None else make_transport(config.mail),
        MailMetrics(registry),
        clock=clock,
    )
    flows = PinFlows(
        config,
        db,
        gate,
        PinPolicy.from_config(config.pin_policy),
        keys,
        clock=clock,
        on_mail_queued=sender.wake,
    )
    page = PinPage(flows, csrf_guard(hasher.derived_key("web-csrf"), web.base_url))
    app: object = build_app(page)
    if web.proxy_hops > 0:
        app = ProxyFixMiddleware(app, mode="legacy", trusted_hops=web.proxy_hops)  # type: ignore[arg-type]
    return WebParts(config, flows, page, sender, app)


def hypercorn_config(listen: str) -> HypercornConfig:
    host, port = parse_address(listen, "web.listen")
    hc = HypercornConfig()
    hc.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    # No access log: a reset link's query string holds the token.
    hc.accesslog = None
    hc.errorlog = logging.getLogger("sip2d.web.server")
    hc.include_server_header = False
    hc.graceful_timeout = 5.0
    return hc


async def serve_web(
    parts: WebParts,
    shutdown: trio.Event,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve until ``shutdown`` is set; reports the bound addresses when listening."""
    async with trio.open_nursery() as workers:
        await workers.start(parts.flows.run_forgot_worker)
        await workers.start(parts.sender.run)
        async with trio.open_nursery() as http:
            addresses: list[str] = await http.start(
                lambda task_status: serve(
                    parts.app,  # type: ignore[arg-type]
                    hypercorn_config(parts.config.web.listen),
                    shutdown_trigger=shutdown.wait,
                    task_status=task_status,
                    mode="asgi",
                )
            )
            parts.addresses = addresses
            for address in addresses:
                log.info("PIN page listening", extra={"url": address})
            task_status.started(addresses)
        # Hypercorn has closed its connections: finish queued link requests, then stop.
        with trio.move_on_after(parts.config.server.shutdown_grace):
            await parts.flows.drained()
        workers.cancel_scope.cancel()
