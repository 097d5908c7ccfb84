"""The daemon: listeners, connection limits, health checks, signals and shutdown.

Structure (trio nurseries, outermost first):

* the daemon nursery runs the signal watcher, the database health loop, the metrics endpoint
  and the listener nursery;
* the listener nursery accepts connections; cancelling it stops accepting and nothing else;
* the connection nursery holds one task per kiosk, so shutdown can stop accepting first, then
  let every connection finish the message in hand, and only after the grace period cancel
  whatever is left.

SIGTERM (and Ctrl-C) drain and exit 0; SIGHUP re-reads the configuration file and applies
what can change without dropping connections (log level, session, throttle and server
timeouts); listener and database changes need a restart and say so in the log.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio
from sqlalchemy import text

from sip2d.config import Config, ConfigError, ListenerConfig, load_config, parse_address
from sip2d.server.connection import Connection, peer_address
from sip2d.server.context import ServerContext
from sip2d.server.descriptors import fit_connections, raise_open_file_limit
from sip2d.server.dispatch import Dispatcher
from sip2d.server.http import handle_http
from sip2d.server.logs import configure_logging

log = logging.getLogger("sip2d.server")

# Connections the timekeeper looks at before letting other tasks run (~0.3 ms of work).
_TIMEKEEPER_SLICE = 1000


def tls_context(listener: ListenerConfig) -> ssl.SSLContext:
    """Server TLS with TLS 1.2 as the floor."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(listener.cert_file, listener.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"listener {listener.address}: cannot load certificate: {exc}") from None
    return context


async def open_reuse_port_listeners(host: str | None, port: int) -> list[trio.SocketListener]:
    """What ``trio.open_tcp_listeners`` opens, with SO_REUSEPORT set before ``bind``.

    Every daemon that sets it on the same address gets its own listening socket and the
    kernel spreads new connections over them, so several ``sip2d serve`` processes on one
    database share one port (and one kiosk configuration) without a proxy in front.
    """
    if not hasattr(socket, "SO_REUSEPORT"):
        raise OSError("SO_REUSEPORT is not available on this system")
    addresses = await trio.socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    listeners: list[trio.SocketListener] = []
    try:
        for family, kind, proto, _, address in addresses:
            sock = trio.socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                await sock.bind(address)
                sock.listen(socket.SOMAXCONN)
            except BaseException:
                sock.close()
                raise
            listeners.append(trio.SocketListener(sock))
    except BaseException:
        for listener in listeners:
            listener.socket.close()
        raise
    return listeners


async def open_listeners(
    config: Config,
) -> list[tuple[ListenerConfig, list[trio.abc.Listener[trio.abc.Stream]]]]:
    opened: list[tuple[ListenerConfig, list[trio.abc.Listener[trio.abc.Stream]]]] = []
    for listener in config.listeners:
        host, port = parse_address(listener.address)
        try:
            if listener.reuse_port:
                tcp = await open_reuse_port_listeners(host or None, port)
            else:
                tcp = await trio.open_tcp_listeners(port, host=host or None)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {listener.address}: {exc.strerror or exc}"
            ) from None
        streams: list[trio.abc.Listener[trio.abc.Stream]] = list(tcp)
        if listener.tls:
            context = tls_context(listener)
            streams = [trio.SSLListener(t, context, https_compatible=False) for t in tcp]
        opened.append((listener, streams))
    return opened


async def open_metrics_listeners(config: Config) -> list[trio.SocketListener]:
    """The metrics sockets, opened before serving so a taken port is one line, not a crash."""
    if not config.metrics.listen:
        return []
    host, port = parse_address(config.metrics.listen, "metrics.listen")
    try:
        return await trio.open_tcp_listeners(port, host=host or None)
    except OSError as exc:
        raise ConfigError(
            f"metrics.listen: cannot listen on {config.metrics.listen}: {exc.strerror or exc}"
        ) from None


def bound_addresses(listeners: list[trio.abc.Listener[trio.abc.Stream]]) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for listener in listeners:
        inner: Any = getattr(listener, "transport_listener", listener)
        sockname = inner.socket.getsockname()
        found.append((sockname[0], sockname[1]))
    return found


class Daemon:
    """Runs one configured server until told to stop."""

    def __init__(
        self, ctx: ServerContext, config_path: str | None = None, *, handle_signals: bool = True
    ) -> None:
        """``handle_signals=False`` leaves SIGTERM/SIGINT/SIGHUP to the embedding program.

        Signal handlers can only be installed from the main thread, and a program (or a test)
        that runs the daemon inside its own event loop keeps its own Ctrl-C; it stops the
        daemon with :meth:`stop` and reloads it with :meth:`reload`.
        """
        self.ctx = ctx
        self.dispatcher = Dispatcher()
        self.config_path = config_path
        self.handle_signals = handle_signals
        self.addresses: list[tuple[str, int]] = []
        self.metrics_address: tuple[str, int] | None = None
        self._listener_scope: trio.CancelScope | None = None
        self._connection_nursery: trio.Nursery | None = None
        self._open_files = raise_open_file_limit()
        # The PIN page when [web] listen is set (sip2d.web.serve.WebParts).
        self.web: Any = None

    async def run(self, *, task_status: trio.TaskStatus[Daemon] = trio.TASK_STATUS_IGNORED) -> None:
        ctx = self.ctx
        # Before any listener opens: the connection limit must be reached before the
        # descriptor limit (sip2d.server.descriptors).
        fitted = fit_connections(ctx.config, self._open_files)
        if fitted is not ctx.config:
            ctx.apply(fitted)
        opened = await open_listeners(ctx.config)
        metrics_listeners = await open_metrics_listeners(ctx.config)
        async with trio.open_nursery() as daemon_nursery:
            daemon_nursery.start_soon(self._health_loop)
            daemon_nursery.start_soon(self._timekeeper)
            # Outlives the connection nursery: draining kiosks can still commit their writes.
            await daemon_nursery.start(ctx.db.run_writer)
            if metrics_listeners:
                await daemon_nursery.start(self._serve_metrics, metrics_listeners)
            if ctx.config.web.listen:
                await daemon_nursery.start(self._serve_web)
            async with trio.open_nursery() as connection_nursery:
                self._connection_nursery = connection_nursery
                all_streams = []
                for listener, streams in opened:
                    all_streams += streams
                    for stream_listener in streams:
                        connection_nursery.start_soon(self._accept_loop, listener, stream_listener)
                self.addresses = bound_addresses(all_streams)
                if self.handle_signals:
                    await daemon_nursery.start(self._watch_signals, daemon_nursery.cancel_scope)
                for host, port in self.addresses:
                    log.info("listening", extra={"host": host, "port": port})
                task_status.started(self)
                await ctx.stopping.wait()
                await self._drain(all_streams, connection_nursery)
            daemon_nursery.cancel_scope.cancel()
        ctx.db.close()
        log.info("stopped")

    def stop(self) -> None:
        """Begin a graceful shutdown (what SIGTERM does)."""
        self.ctx.stopping.set()

    async def _drain(
        self, streams: list[trio.abc.Listener[trio.abc.Stream]], nursery: trio.Nursery
    ) -> None:
        ctx = self.ctx
        for stream_listener in streams:
            await stream_listener.aclose()
        log.info("draining", extra={"connections": len(ctx.connections)})
        with trio.move_on_after(ctx.config.server.shutdown_grace):
            # Again after every pause: a connection answering a message is waiting again later.
            while True:
                for connection in list(ctx.connections):
                    connection.stop_waiting()
                if not ctx.connections:
                    break
                await trio.sleep(0.02)
        nursery.cancel_scope.cancel()

    async def _accept_loop(
        self, listener: ListenerConfig, stream_listener: trio.abc.Listener[trio.abc.Stream]
    ) -> None:
        assert self._connection_nursery is not None
        while not self.ctx.stopping.is_set():
            try:
                stream = await stream_listener.accept()
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                return
            except OSError as exc:
                # EMFILE and friends: back off instead of spinning, keep the listener.
                log.warning("accept failed", extra={"error": str(exc)})
                await trio.sleep(0.1)
                continue
            self._connection_nursery.start_soon(self._serve_connection, listener, stream)

    async def _serve_connection(self, listener: ListenerConfig, stream: trio.abc.Stream) -> None:
        ctx = self.ctx
        address = peer_address(stream)
        server = ctx.config.server
        per_address = ctx.connections_per_address.get(address, 0)
        if len(ctx.connections) >= server.max_connections:
            ctx.metrics.connections_refused.labels("total").inc()
            log.warning("connection refused", extra={"peer": address, "limit": "total"})
            await trio.aclose_forcefully(stream)
            return
        if per_address >= server.max_connections_per_address:
            ctx.metrics.connections_refused.labels("per_address").inc()
            log.warning("connection refused", extra={"peer": address, "limit": "per_address"})
            await trio.aclose_forcefully(stream)
            return
        ctx.connections_per_address[address] = per_address + 1
        try:
            await Connection(ctx, self.dispatcher, stream, listener, address).serve()
        except trio.Cancelled:
            raise
        except Exception:
            log.exception("connection failed", extra={"peer": address})
        finally:
            remaining = ctx.connections_per_address.get(address, 1) - 1
            if remaining <= 0:
                ctx.connections_per_address.pop(address, None)
            else:
                ctx.connections_per_address[address] = remaining

    async def _timekeeper(self) -> None:
        """End connections whose login, idle, partial-frame or send clock has run out.

        One task looking at every connection a few times per shortest timeout is cheaper than a
        cancel scope with a deadline around every receive, which each keep-alive would pay for.
        A clock ends at most a tenth of the shortest timeout (and at most a second) late.
        """
        ctx = self.ctx
        while True:
            server = ctx.config.server  # re-read: a reload may change the timeouts
            shortest = min(
                server.login_timeout, server.idle_timeout, server.frame_timeout, server.send_timeout
            )
            await trio.sleep(min(max(shortest / 10, 0.01), 1.0))
            now = trio.current_time()
            connections = list(ctx.connections)
            # In slices, so ten thousand idle kiosks never hold up the active ones for long.
            for start in range(0, len(connections), _TIMEKEEPER_SLICE):
                for connection in connections[start : start + _TIMEKEEPER_SLICE]:
                    connection.expire(now)
                await trio.lowlevel.checkpoint()

    async def _health_loop(self) -> None:
        while True:
            await self.check_database()
            await trio.sleep(self.ctx.config.server.health_check_interval)

    async def check_database(self) -> bool:
        """Ask the database for ``SELECT 1``; any failure, including no answer within 3 s, is
        an outage (logged by :class:`~sip2d.server.health.DatabaseHealth`, once)."""
        ctx = self.ctx
        try:
            with trio.fail_after(3):
                await ctx.db.read(lambda conn: conn.execute(text("SELECT 1")).scalar())
        except Exception as exc:
            ctx.health.failed(exc)
            ctx.metrics.db_online.set(0)
            return False
        ctx.health.succeeded()
        ctx.metrics.db_online.set(1)
        return True

    async def _serve_metrics(
        self,
        listeners: list[trio.SocketListener],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        self.metrics_address = bound_addresses(list(listeners))[0]
        log.info(
            "metrics listening",
            extra={"host": self.metrics_address[0], "port": self.metrics_address[1]},
        )
        task_status.started()
        registry = self.ctx.metrics.registry

        async def handler(stream: trio.SocketStream) -> None:
            await handle_http(stream, registry, self.check_database)

        await trio.serve_listeners(handler, listeners)

    async def _serve_web(
        self, *, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """The patron PIN page in this daemon's nursery (small sites; issue #16)."""
        from sip2d.server.build import metrics_sink
        from sip2d.web.serve import build_web, serve_web

        ctx = self.ctx
        self.web = build_web(
            ctx.config,
            ctx.db,
            ctx.gate.hasher,
            registry=ctx.metrics.registry,
            auth_metrics=metrics_sink(ctx.metrics),  # type: ignore[arg-type]
        )
        await serve_web(self.web, ctx.stopping, task_status=task_status)

    async def _watch_signals(
        self,
        scope: trio.CancelScope,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Started before "listening" is logged: a SIGHUP sent by whoever read that line must find
        the receiver in place, or its default action would kill the daemon."""
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            task_status.started()
            async for signum in signals:
                if signum == signal.SIGHUP:
                    self.reload()
                    continue
                if self.ctx.stopping.is_set():
                    log.warning("second stop signal: exiting now")
                    scope.cancel()
                    return
                log.info("stop signal received", extra={"signal": signal.Signals(signum).name})
                self.stop()

    def reload(self) -> None:
        """SIGHUP: re-read the config file and apply what can change in flight."""
        if self.config_path is None:
            log.info("reload: no config file, nothing to reload")
            return
        old = self.ctx.config
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            log.error("reload failed, keeping the running configuration", extra={"error": str(exc)})
            return
        pending = [
            key
            for section, name in (("listeners", "listener"), ("database", ""), ("auth", ""))
            for key in changed_keys(getattr(old, section), getattr(new, section), name or section)
        ]
        if pending:
            log.warning(
                "reload: these changes take effect only after a restart: %s",
                ", ".join(pending),
                extra={"restart_needed": pending},
            )
        applied = dataclasses.replace(
            old,
            server=new.server,
            pin_policy=new.pin_policy,
            throttle=new.throttle,
            session=new.session,
            logging=new.logging,
        )
        self.ctx.apply(fit_connections(applied, self._open_files))
        configure_logging(applied.logging.level, applied.logging.format)
        log.info("configuration reloaded", extra={"file": str(Path(self.config_path))})


def changed_keys(old: Any, new: Any, where: str) -> list[str]:
    """The dotted keys whose values differ between two configuration values."""
    if old == new:
        return []
    if dataclasses.is_dataclass(old) and type(old) is type(new):
        return [
            key
            for field in dataclasses.fields(old)
            for key in changed_keys(
                getattr(old, field.name), getattr(new, field.name), f"{where}.{field.name}"
            )
        ]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            key
            for index, (before, after) in enumerate(zip(old, new, strict=True))
            for key in changed_keys(before, after, f"{where}[{index}]")
        ]
    return [where]


def run_blocking(build: Callable[[], ServerContext], config_path: str | None) -> None:
    """Entry point for ``sip2d serve``: build the context and run until stopped."""

    async def main() -> None:
        ctx = build()
        await Daemon(ctx, config_path).run()

    trio.run(main)
