"""The emulator's guard: how long a client may take, how many may be connected at once, what
a bad or stalled connection leaves in the log, and who may drive the emulator (`Gate`: the
names it answers to, the origin and content types a request may come with, the control
token, and `exposure`, which refuses to start an open control API unasked).

aiohttp's server closes a connection that waits too long for its next request (its
keep-alive timeout, `Settings.idle_timeout` here), but nothing bounds a request that has
begun: a client sending its head a byte at a time, or a body that never ends, holds its
connection for ever. `GuardedHandler`, aiohttp's `RequestHandler` with two deadlines, closes
it: `header_timeout` from the first byte of a request head to its end (then it answers 408),
`body_timeout` from the end of the head to the end of the body. Neither costs a timer on the
usual request, whose head and body arrive in one read: a deadline is armed only when a read
ends inside a head or a body. `Connections` keeps the count: at `max_connections` (or fewer,
when the descriptor limit is lower, see `budget`) a new connection closes the longest-open
idle one, so a normal request is still served while the idle and the slow hold the rest, and
the limit is logged once when it is reached, not once per connection. A process out of
descriptors (EMFILE on accept) logs one line in ten seconds, not a traceback per attempt, and
closes idle connections to make room (`LoopGuard`).

No byte of a request reaches the log or an error answer. aiohttp's parser puts the bytes it
could not read into its exception (a Content-Length shorter than the body makes the rest a
"request" whose method is the body: a password, say), which aiohttp logged with a traceback
and echoed in its 400 answer. The handler answers such a request with a bare `400 Bad
Request` and logs one line without the bytes (at most one in ten seconds), and what aiohttp
itself logs of a connection goes to `HTTP_LOG`, not to `aiohttp.server`; the access log is
off.

The handler reads a few attributes of aiohttp's (`_request_count`, `_messages`,
`_request_in_progress`); tests/test_connections.py fails if a new aiohttp moves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import ipaddress
import logging
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from emulator.settings import Settings, SettingsError

log = logging.getLogger(__name__)
HTTP_LOG = logging.getLogger("emulator.http")  # the connections' own lines, never a request's bytes

RESERVED_DESCRIPTORS = 64  # the listening sockets, files, the image threads, stdio
LOG_EVERY = 10.0  # seconds between two lines about the same kind of trouble
REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n"
    b"Connection: close\r\n\r\n408 Request Timeout\n"
)
_OUT_OF = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class Throttle:
    """Logs a kind of line at most once per `every` seconds, counting the ones held back."""

    def __init__(self, logger: logging.Logger, every: float = LOG_EVERY) -> None:
        self.logger = logger
        self.every = every
        self._last: dict[str, tuple[float, int]] = {}

    def __call__(self, kind: str, level: int, message: str) -> bool:
        """Log `message` unless a line of this kind was logged less than `every` ago."""
        now = time.monotonic()
        last, held = self._last.get(kind, (-self.every, 0))
        if now - last < self.every:
            self._last[kind] = (last, held + 1)
            return False
        if held:
            message += f" ({held} more like this in the last {now - last:.0f} s)"
        self._last[kind] = (now, 0)
        self.logger.log(level, message)
        return True


# --- the descriptor budget ---------------------------------------------------------------------


def descriptor_limit() -> int | None:
    """The process's soft limit on open descriptors, None when there is none."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def raise_descriptor_limit(ceiling: int = 1 << 20) -> int | None:
    """Raise the soft descriptor limit to the hard one (at most `ceiling`), as a server that
    holds many connections should; the limit now. Process-wide: `serve` only."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = ceiling if hard == resource.RLIM_INFINITY else min(hard, ceiling)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):  # not allowed here: keep what there is
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return descriptor_limit()


@dataclass(frozen=True, slots=True)
class Budget:
    """What the descriptor limit leaves for connections and notification attempts."""

    connections: int
    notifications: int
    descriptors: int | None

    def note(self, settings: Settings) -> str | None:
        """A line saying what was lowered to fit the descriptor limit, if anything was."""
        lowered = []
        if self.connections < settings.max_connections:
            lowered.append(f"connections to {self.connections}")
        if self.notifications < settings.notification_connections:
            lowered.append(f"notification connections to {self.notifications}")
        if not lowered:
            return None
        return f"the descriptor limit is {self.descriptors} (ulimit -n): limited " + " and ".join(
            lowered
        )


def budget(settings: Settings) -> Budget:
    """Connections and notification attempts that fit in the descriptor limit: notifications
    take at most a quarter of it, connections what is left but `RESERVED_DESCRIPTORS`."""
    limit = descriptor_limit()
    if limit is None:
        return Budget(settings.max_connections, settings.notification_connections, None)
    notifications = max(1, min(settings.notification_connections, limit // 4))
    connections = max(
        1, min(settings.max_connections, limit - notifications - RESERVED_DESCRIPTORS)
    )
    return Budget(connections, notifications, limit)


# --- connections -------------------------------------------------------------------------------


class Connections:
    """The open connections of one server: their limit, and the deadlines a request keeps."""

    def __init__(self, settings: Settings, limit: int) -> None:
        self.header_timeout = settings.header_timeout
        self.body_timeout = settings.body_timeout
        self.idle_timeout = settings.idle_timeout
        self.limit = limit
        self._open: dict[GuardedHandler, None] = {}  # oldest first
        self._full = False
        self.closed_for_room = 0
        self.refused = 0
        self.throttle = Throttle(log)

    def __len__(self) -> int:
        return len(self._open)

    def opened(self, handler: GuardedHandler) -> bool:
        """Count a new connection in; False when it must be closed (no room was made)."""
        if len(self._open) >= self.limit:
            if not self._full:
                self._full = True
                log.warning(
                    "connection limit reached (%d open): each new connection now closes the "
                    "longest-open idle one (--max-connections)",
                    self.limit,
                )
            if not self.shed(1):
                self.refused += 1
                return False
            self.closed_for_room += 1
        self._open[handler] = None
        return True

    def closed(self, handler: GuardedHandler) -> None:
        self._open.pop(handler, None)
        if self._full and len(self._open) < self.limit * 3 // 4:
            self._full = False
            log.info(
                "back under the connection limit: %d idle connections were closed to make "
                "room, %d new ones refused",
                self.closed_for_room,
                self.refused,
            )
            self.closed_for_room = self.refused = 0

    def shed(self, count: int) -> int:
        """Close up to `count` idle connections, the longest-open first; how many it closed."""
        chosen: list[GuardedHandler] = []
        for handler in self._open:
            if len(chosen) == count:
                break
            if handler.idle:
                chosen.append(handler)
        for handler in chosen:
            self._open.pop(handler, None)
            handler.force_close()
        return len(chosen)

    def errored(self, request: web.BaseRequest, status: int, exc: BaseException | None) -> int:
        """Log a request aiohttp could not serve without a byte of it; the status to answer.
        A request that could not be read is the client's fault: 400, one line (throttled).
        A handler's own failure is a bug: 500, the traceback (with method and path only)."""
        peer = request.remote or "?"
        if isinstance(exc, HttpProcessingError | RequestPayloadError):
            self.throttle(
                "bad-request",
                logging.WARNING,
                f"bad HTTP request from {peer}: 400 ({type(exc).__name__}; the request's "
                "bytes are not logged)",
            )
            return 400
        if isinstance(exc, ConnectionError):
            HTTP_LOG.debug("connection from %s lost while serving it", peer)
            return status
        if status >= 500:
            HTTP_LOG.error(
                "error serving %s %s", request.method, request.rel_url.path, exc_info=exc
            )
        return status

    def timed_out(self, stage: str, seconds: float) -> None:
        self.throttle(
            f"timeout-{stage}",
            logging.INFO,
            f"closed a connection that took over {seconds:g} s to send a request {stage}",
        )


HEAD, BODY = "head", "body"
_receive = web.RequestHandler.data_received


class GuardedHandler(web.RequestHandler):
    """aiohttp's connection handler, with deadlines on a request's head and body."""

    __slots__ = ("_deadline", "_guard", "_payload")

    def __init__(self, manager: web.Server, guard: Connections, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._deadline: asyncio.TimerHandle | None = None
        self._payload: Any = None  # the body of the latest request, while it is arriving

    @property
    def idle(self) -> bool:
        """Between requests (a head may have begun): nothing would be lost by closing."""
        return not (self._request_in_progress or self._messages or self._payload is not None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if not self._guard.opened(self):
            self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        self._guard.closed(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # The usual request is one read, head and body: this costs it one call (`is_eof`).
        pending = self._payload
        heads = self._request_count
        _receive(self, data)
        if self._request_count != heads:  # a head ended in this read
            messages = self._messages
            payload = messages[-1][1] if messages else None
            if payload is None or payload.is_eof():
                self._payload = None
                if self._deadline is not None:
                    self._disarm()
            else:  # its body goes on in later reads
                self._payload = payload
                self._arm(self._guard.body_timeout, BODY)
        elif pending is not None:
            if pending.is_eof():
                self._payload = None
                if self._deadline is not None:
                    self._disarm()
        elif self._deadline is None and data:  # a head began and did not end
            self._arm(self._guard.header_timeout, HEAD)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's error answer, bare: its status and reason, no word of the request."""
        status = self._guard.errored(request, status, exc)
        if request.writer.output_size > 0:  # as aiohttp does: the answer has begun
            raise ConnectionError("the answer was partly sent, another cannot be")
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        response = web.Response(status=status, text=f"{status} {reason}\n")
        response.force_close()
        return response

    def _arm(self, seconds: float, stage: str) -> None:
        self._disarm()
        self._deadline = self._loop.call_later(seconds, self._expired, seconds, stage)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, seconds: float, stage: str) -> None:
        self._deadline = None
        if stage == HEAD:
            if not self.idle:  # the next head, sent while a request is served: its turn later
                return
            if self.transport is not None:
                self.transport.write(REQUEST_TIMEOUT)  # written before the close below
        self._guard.timed_out(stage, seconds)
        self.force_close()


class GuardedSite(web.BaseSite):
    """A TCP site whose connections are `GuardedHandler`s counted by `connections`."""

    __slots__ = ("_connections", "_handler_args", "_host", "_port")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        connections: Connections,
        *,
        backlog: int = 1024,
        **handler_args: Any,
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self._connections = connections
        self._handler_args = handler_args

    @property
    def name(self) -> str:
        shown = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{shown}:{self._port}"

    @property
    def port(self) -> int:
        """The bound port (the one asked for until started)."""
        server = self._server
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else self._port

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        manager = self._runner.server
        assert manager is not None, "the runner is set up before its site starts"
        connections, handler_args = self._connections, self._handler_args

        def connection() -> GuardedHandler:
            return GuardedHandler(
                manager,
                connections,
                loop=loop,
                keepalive_timeout=connections.idle_timeout,
                logger=HTTP_LOG,
                access_log=None,
                **handler_args,
            )

        self._server = await loop.create_server(
            connection, self._host, self._port, backlog=self._backlog, reuse_address=True
        )


class LoopGuard:
    """The loop's exception handler, minding one kind of report: a descriptor short on accept.

    On EMFILE, asyncio (3.11 to 3.13 at least) reports the failed accept with a traceback and
    tries it again a second later, and it goes on trying the rest of its accept batch (the
    backlog, 1,024), each failure reported and rescheduled alike: thousands of tracebacks a
    second. This logs one line in ten seconds instead, closes an eighth of the connections that
    are idle (at most once a second) to make room, and keeps quiet about the rescheduled tries
    that fire after the listening socket has closed. Any other report goes on as before."""

    def __init__(self, connections: Connections) -> None:
        self.connections = connections
        self._previous: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None = None
        self._shed_at = -1.0

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        self._previous = loop.get_exception_handler()
        loop.set_exception_handler(self.handle)

    def handle(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        message = str(context.get("message", ""))
        if isinstance(exc, OSError) and exc.errno in _OUT_OF and "accept" in message:
            now = time.monotonic()
            closed = 0
            if now - self._shed_at >= 1.0:  # what was closed frees its descriptor later
                self._shed_at = now
                closed = self.connections.shed(max(16, len(self.connections) // 8))
            self.connections.throttle(
                "accept",
                logging.WARNING,
                f"cannot accept connections: {os.strerror(exc.errno or 0)} (descriptor limit "
                f"{descriptor_limit()}, {len(self.connections)} connections open); closed "
                f"{closed} idle ones to make room",
            )
            return
        callback = getattr(context.get("handle"), "_callback", None)
        if getattr(callback, "__name__", "") == "_start_serving" and isinstance(exc, ValueError):
            return  # a retried accept whose listening socket has closed since
        if self._previous is not None:
            self._previous(loop, context)
        else:
            loop.default_exception_handler(context)


# --- who may drive the emulator ----------------------------------------------------------------

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
"""What a page on another origin can send without the browser asking first (a CORS "simple"
request): never a SOAP client's type (text/xml, application/soap+xml) nor the control API's."""
TOOL_TYPES = frozenset({"", "application/x-www-form-urlencoded"})
"""What a control write's body may be typed as when no browser sent it: no type, or what curl
`-d` and urllib send unless told (`Gate.control_type`)."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_HEADER = "X-Seqr-Emulator-Token"
WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})
_LEARNED = 1024  # Host and Content-Type values whose verdict is kept (both are few in practice)


def is_loopback(host: str) -> bool:
    """`host` (as `--host` takes it) is a loopback address, or `localhost`."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a wildcard, or a name that may resolve to anything


def exposure(settings: Settings) -> str | None:
    """Whether the emulator may serve `settings.host` as configured: None when its control API
    is closed (a loopback address, or a token), a warning when `open_control` opens it, and a
    `SettingsError` when neither."""
    if is_loopback(settings.host) or settings.control_token is not None:
        return None
    shown = settings.host or "every address"
    if settings.open_control:
        return (
            f"warning: the control API and the dashboard on {shown} answer anyone who can "
            "reach it, without a token (--open-control)"
        )
    raise SettingsError(
        f"--host {shown} is not a loopback address: give --control-token TOKEN (or "
        "SEQR_EMULATOR_CONTROL_TOKEN) so that only those who have it drive the control API "
        "and the dashboard, or --open-control to serve them to anyone who can reach it"
    )


def host_name(value: str) -> str:
    """The name in a Host header, without its port, lower case: `[::1]:8090` is `::1`."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _json(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=message + "\n", headers=headers)


class Gate:
    """Who may drive one emulator, checked in each route's own handler with plain header
    lookups (a middleware would cost every SOAP call about 7% of the HTTP stack's ceiling):

    - the Host header must name what the emulator serves: localhost, an IP address (a page
      rebinding its own name to this address sends that name), `--host`, `--allowed-hosts`;
      else 421;
    - an Origin header, which browsers send with every POST, must be the emulator's own;
      else 403, so a page on another origin can drive neither the SOAP endpoint nor the
      control API;
    - a SOAP POST must not be a browser form's (text/plain, urlencoded, multipart); a control
      write from a page must be `application/json` when it has a body and never a form's,
      one with no Origin (curl, a script) may also name no type or curl's urlencoded default
      (`control_type`); else 415;
    - with `--control-token`, the control API (but its health route) and the dashboard ask
      for the token: `Authorization: Bearer TOKEN`, `X-Seqr-Emulator-Token: TOKEN`, or the
      cookie `/?token=TOKEN` sets for the dashboard's page and its own requests; else 401.
    """

    def __init__(self, settings: Settings) -> None:
        self.token = settings.control_token
        names = {"localhost"}
        bound = host_name(settings.host)
        if bound not in WILDCARDS and not _is_ip(bound):
            names.add(bound)
        self.any_host = False
        for name in (settings.allowed_hosts or "").split(","):
            name = host_name(name)
            if name == "*":
                self.any_host = True
            elif name:
                names.add(name)
        self.names = frozenset(names)
        self._hosts: dict[str | None, bool] = {None: True}  # a request without Host: HTTP/1.0
        self._types: dict[str | None, bool] = {None: True}
        # The Host and Content-Type values seen to pass, for the SOAP route's fast path: a
        # merchant's client sends the same two on every call, so `app.soap_route` asks these
        # sets, and that no Origin came, inline: three header lookups by `istr` (no case
        # folding; `str` keys cost four times as much) and two set lookups, 2.1k
        # instructions; only a value not seen yet goes through `soap`, which learns it.
        self.good_hosts: set[str | None] = {None}
        self.good_soap_types: set[str | None] = {None}

    # --- the checks --------------------------------------------------------------------------

    def serves(self, host: str | None) -> bool:
        """The Host header names this emulator."""
        verdict = self._hosts.get(host)
        if verdict is None:
            assert host is not None
            name = host_name(host)
            verdict = self.any_host or name in self.names or _is_ip(name)
            if len(self._hosts) < _LEARNED:
                self._hosts[host] = verdict
                if verdict:
                    self.good_hosts.add(host)
        return verdict

    @staticmethod
    def same_origin(origin: str, host: str | None) -> bool:
        """`origin` is the origin of the emulator as the request addressed it."""
        if host is None:
            return False
        scheme, _, rest = origin.strip().lower().partition("://")
        default = {"http": ":80", "https": ":443"}.get(scheme)
        if default is None:
            return False  # "null", a file: page, a browser extension
        return rest.removesuffix(default) == host.strip().lower().removesuffix(default)

    def soap_type(self, content_type: str | None) -> bool:
        """A SOAP POST may carry this Content-Type (any but a browser form's)."""
        verdict = self._types.get(content_type)
        if verdict is None:
            assert content_type is not None
            verdict = media_type(content_type) not in FORM_TYPES
            if len(self._types) < _LEARNED:
                self._types[content_type] = verdict
                if verdict:
                    self.good_soap_types.add(content_type)
        return verdict

    @staticmethod
    def control_type(media: str, has_body: bool, from_a_page: bool) -> bool:
        """A control write may carry a body of this media type. JSON always. A request with
        no Origin comes from no browser (every browser sends one with a POST, a form's too),
        so it may also name no type or curl's and urllib's default, a form's urlencoded, and
        its body is read as JSON all the same: `curl -d '{"seconds": 60}'` works. A page's
        request (the dashboard's own) must say JSON when it has a body, and is never a
        form's."""
        if media == "application/json":
            return True
        if not from_a_page:
            return media in TOOL_TYPES or (not has_body and media not in FORM_TYPES)
        return media not in FORM_TYPES and not has_body

    def authorized(self, request: web.BaseRequest) -> bool:
        """The request carries the control token (always so when there is none)."""
        token = self.token
        if token is None:
            return True
        headers = request.headers
        given = headers.get(TOKEN_HEADER)
        if given is None:
            scheme, _, value = headers.get("Authorization", "").partition(" ")
            given = value.strip() if scheme.lower() == "bearer" else None
        if given is None:
            given = request.cookies.get(cookie_name(request))
        return given is not None and hmac.compare_digest(given.encode(), token.encode())

    # --- the answers -------------------------------------------------------------------------

    def soap(self, request: web.BaseRequest) -> web.Response | None:
        """None when the SOAP POST may be served, else the refusal (and a Host or
        Content-Type that passes is learned for `passes_soap`)."""
        headers = request.headers
        host = headers.get("Host")
        if not self.serves(host):
            return _text(421, misdirected(host))
        origin = headers.get("Origin")
        if origin is not None and not self.same_origin(origin, host):
            return _text(403, "a page on another origin may not call the SOAP endpoint")
        if not self.soap_type(headers.get("Content-Type")):
            return _text(
                415,
                "a SOAP request is text/xml (SOAP 1.1), not a browser form's "
                f"{media_type(headers['Content-Type'])}",
            )
        return None

    def page(self, request: web.BaseRequest) -> web.Response | None:
        """A GET of the emulator's own pages (the WSDL, the dashboard) may be served; the
        token, when there is one, is the dashboard's to ask (`dashboard`)."""
        host = request.headers.get("Host")
        return None if self.serves(host) else _text(421, misdirected(host))

    def control(self, request: web.BaseRequest, *, token: bool = True) -> web.Response | None:
        """None when the control request may be served, else its JSON refusal."""
        headers = request.headers
        host = headers.get("Host")
        if not self.serves(host):
            return _json(421, misdirected(host))
        origin = headers.get("Origin")
        if origin is not None and not self.same_origin(origin, host):
            return _json(403, "a page on another origin may not drive the control API")
        if request.method not in SAFE_METHODS and not self.control_type(
            media_type(headers.get("Content-Type", "")), request.body_exists, origin is not None
        ):
            return _json(
                415,
                "a control request with a body sends it as application/json "
                "(curl: -H 'Content-Type: application/json')",
            )
        if token and not self.authorized(request):
            return _json(
                401,
                "the control API needs its token: Authorization: Bearer TOKEN, or "
                f"{TOKEN_HEADER}: TOKEN (--control-token)",
                {"WWW-Authenticate": 'Bearer realm="seqr-emulator"'},
            )
        return None

    def dashboard(self, request: web.BaseRequest) -> web.StreamResponse | None:
        """None when the dashboard's page may be served. With a token, `/?token=TOKEN` sets
        the cookie the page and its requests then carry (HttpOnly, SameSite=Strict), and
        sends the browser to `/`, so the token leaves the address bar and the history."""
        refused = self.page(request)
        if refused is not None or self.token is None:
            return refused
        given = request.query.get("token")
        if given is not None:
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                return _text(401, "that is not the dashboard's token")
            answer = web.Response(status=303, headers={"Location": "/"})
            answer.set_cookie(
                cookie_name(request), given, path="/", httponly=True, samesite="Strict"
            )
            return answer
        if self.authorized(request):
            return None
        return _text(
            401,
            "the dashboard needs the emulator's token: open /?token=TOKEN once "
            "(--control-token); the browser keeps it in a cookie",
        )


def media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def cookie_name(request: web.BaseRequest) -> str:
    """One cookie per port: cookies do not tell ports apart, emulators side by side do."""
    return f"seqr-emulator-token-{request.url.port or 80}"


def misdirected(host: str | None) -> str:
    name = host_name(host or "")[:100]
    return (
        f"this emulator does not serve the name {name!r}; start it with --allowed-hosts "
        f"{name} if it should"
    )


GATE = web.AppKey("gate", Gate)
"""The emulator's gate, for the routes added after it (`control.add_json_routes`)."""
