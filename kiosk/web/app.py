"""The console's pages: Starlette routes rendering Jinja2 templates, no JavaScript.

Every page, image, chart and CSV needs a signed-in session: without one a page redirects to
/login and anything else answers 401. Forms that change something (log in, log out, delete)
carry a CSRF token: the session's, or before a session exists the login form's own cookie.
Only admins may delete (one person's records, a privacy request). Responses are never cached
and carry headers that keep them out of frames and other sites' reach.

Blocking work (SQLite or PostgreSQL, argon2, matplotlib) runs in Starlette's thread pool.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import hmac
import io
import logging
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from kiosk.config import DECISION_KINDS as DECISIONS
from kiosk.door.decision import NO_FACE
from kiosk.errors import KioskError
from kiosk.events.snapshots import thumbnail_png_of
from kiosk.records import DEMO_SOURCE
from kiosk.vision.model_spec import KNOWN_CLASSES
from kiosk.web.accounts import AccountStore, Session
from kiosk.web.data import ConsoleData, ConsoleEvent, EventFilter
from kiosk.web.throttle import LoginThrottle

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50
THUMBNAIL_PX = 96
CSV_BATCH = 1000
SESSION_COOKIE = "kiosk_console"
LOGIN_COOKIE = "kiosk_console_login"  # the login form's CSRF token, before any session exists
CSV_COLUMNS = ("kiosk_id", "event_id", "time", "kind", "decision", "label", "score", "source", "note")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "content-security-policy": "default-src 'self'; img-src 'self'; style-src 'self'; form-action 'self';"
                               " frame-ancestors 'none'; base-uri 'none'",
}
Endpoint = Callable[[Request], Any]


@dataclass(frozen=True)
class ConsoleSettings:
    session_hours: float = 12.0
    secure_cookies: bool = False  # also set for any request that came over https
    store_name: str = ""  # what the console reads, for the page footer (no password in it)


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every HTTP response (pages, images, static files, errors)."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _when(moment: Optional[datetime]) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "never"


def _ago(moment: Optional[datetime]) -> str:
    if moment is None:
        return "never"
    seconds = int((datetime.now().astimezone() - moment).total_seconds())
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''} ago"
    return "just now" if seconds < 10 else f"{seconds} s ago"


def _parse_day(text: Optional[str]) -> Optional[date]:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _today() -> date:
    return datetime.now().astimezone().date()


def _page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    return max(1, int(text)) if text.isdigit() else 1


_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9/._~%?&=+:-]*")


def _safe_next(target: Optional[str]) -> str:
    """Where to go after logging in: a path of this site only. Anything else (a scheme, //host,
    a backslash, or a tab or space that a browser would drop to make one) goes to the overview."""
    return target if target and _LOCAL_PATH.fullmatch(target) else "/"


def _image_type(data: bytes) -> str:
    return "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"


def _chart_png(counts: dict, day: date) -> bytes:
    from kiosk.events.report import draw_chart  # matplotlib only once a chart is asked for

    with tempfile.TemporaryDirectory(prefix="kiosk-chart-") as folder:
        path = Path(folder) / "chart.png"
        draw_chart({key: list(counts.get(key, [0] * 24)) for key in DECISIONS}, day, path)
        return path.read_bytes()


def _csv_text(events: list[ConsoleEvent]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in events:
        writer.writerow([e.kiosk_id, e.event_id, e.time.isoformat(timespec="milliseconds"), e.kind, e.decision,
                         e.label, f"{e.score:.4f}", e.source, e.note])
    return out.getvalue()


def build_app(data: ConsoleData, accounts: AccountStore, settings: ConsoleSettings = ConsoleSettings(),
              throttle: Optional[LoginThrottle] = None) -> Starlette:
    """The console as an ASGI application over ``data`` (local log or fleet store) and ``accounts``."""
    throttle = throttle or LoginThrottle()
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                     autoescape=jinja2.select_autoescape(default=True),
                                     undefined=jinja2.StrictUndefined)
    environment.filters.update(when=_when, ago=_ago)
    templates = Jinja2Templates(env=environment)

    def query(request: Request, **changes: Any) -> str:
        """This page's query string with ``changes`` (None drops a key), for links that keep the filters."""
        params = dict(request.query_params)
        params.update({key: value for key, value in changes.items()})
        return "?" + urlencode({key: value for key, value in params.items() if value not in (None, "")})

    def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
        session: Optional[Session] = getattr(request.state, "session", None)
        context.setdefault("nav", "")
        context.update(user=session.user if session else None, csrf=session.csrf if session else "",
                       query=functools.partial(query, request), store_name=settings.store_name)
        return templates.TemplateResponse(request, template, context, status_code=status_code)

    def error(request: Request, status_code: int, message: str) -> Response:
        return render(request, "error.html", status_code=status_code, message=message)

    def secure(request: Request) -> bool:
        return settings.secure_cookies or request.url.scheme == "https"

    def signed_in(kind: str = "page", admin: bool = False, form: bool = False) -> Callable[[Endpoint], Endpoint]:
        """Wrap an endpoint so it runs only for a live session. Without one a ``page`` redirects to
        /login, anything else (an image, a CSV) answers 401. ``admin``: viewers get 403.
        ``form``: a POST whose ``csrf`` field must be the session's (403 otherwise)."""
        def wrap(endpoint: Endpoint) -> Endpoint:
            @functools.wraps(endpoint)
            async def guarded(request: Request) -> Response:
                session = await run_in_threadpool(accounts.session, request.cookies.get(SESSION_COOKIE, ""))
                if session is None:
                    if kind == "page" and request.method == "GET":
                        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                        return RedirectResponse("/login?" + urlencode({"next": here}), status_code=303)
                    return Response("login required", status_code=401, media_type="text/plain")
                request.state.session = session
                if form:
                    sent = str((await request.form()).get("csrf", ""))
                    if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
                        return error(request, 403, "This form has expired or did not come from this console."
                                                   " Go back, reload the page and try again.")
                if admin and not session.user.is_admin:
                    return error(request, 403, "Only an administrator may do that.")
                if asyncio.iscoroutinefunction(endpoint):
                    response = await endpoint(request)
                else:
                    response = await run_in_threadpool(endpoint, request)
                response.headers["cache-control"] = "no-store"
                return response
            return guarded
        return wrap

    # --- signing in and out ------------------------------------------------------------------

    async def login_page(request: Request) -> Response:
        if await run_in_threadpool(accounts.session, request.cookies.get(SESSION_COOKIE, "")):
            return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
        return login_form(request, 200, "", "", _safe_next(request.query_params.get("next")))

    def login_form(request: Request, status_code: int, message: str, name: str, target: str) -> Response:
        """The login page with a fresh CSRF token in its form and in a cookie only /login receives."""
        token = secrets.token_urlsafe(32)
        response = render(request, "login.html", status_code=status_code, message=message, name=name,
                          login_csrf=token, next=target)
        response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="strict",
                            secure=secure(request))
        response.headers["cache-control"] = "no-store"
        return response

    async def login(request: Request) -> Response:
        form = await request.form()
        name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
        sent, expected = str(form.get("csrf", "")), request.cookies.get(LOGIN_COOKIE, "")
        target = _safe_next(str(form.get("next", "/")))
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            return login_form(request, 403, "The login form expired; please sign in again.", name, target)
        address = request.client.host if request.client else "unknown"
        wait = throttle.wait_s(name, address)
        if wait > 0:
            log.warning("console login refused from %s: locked out for %.0f s more after failed logins", address, wait)
            return login_form(request, 429, f"Too many failed logins. Try again in {wait:.0f} seconds.", name, target)
        user = await run_in_threadpool(accounts.verify, name, password)
        if user is None:
            wait = throttle.failed(name, address)
            known = any(u.name == name for u in await run_in_threadpool(accounts.users))
            log.warning("failed console login from %s (%s)%s", address, f"user {name}" if known else "unknown user",
                        f"; locked out for {wait:.0f} s" if wait else "")
            message = "Wrong name or password." + (f" Too many failures: wait {wait:.0f} seconds." if wait else "")
            return login_form(request, 401, message, name, target)
        throttle.succeeded(name, address)
        token, _ = await run_in_threadpool(accounts.open_session, user, settings.session_hours)
        log.info("console login: %s (%s) from %s", user.name, user.role, address)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, token, max_age=int(settings.session_hours * 3600), httponly=True,
                            samesite="lax", secure=secure(request))
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    @signed_in(form=True)
    async def logout(request: Request) -> Response:
        await run_in_threadpool(accounts.close_session, request.cookies.get(SESSION_COOKIE, ""))
        log.info("console logout: %s", request.state.session.user.name)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=secure(request))
        return response

    # --- pages -------------------------------------------------------------------------------

    @signed_in()
    def overview(request: Request) -> Response:
        today = _today()
        kiosks = data.kiosks(today)
        totals = {key: sum(getattr(k, key) for k in kiosks) for key in DECISIONS}
        return render(request, "overview.html", nav="overview", kiosks=kiosks, totals=totals, today=today,
                      online=sum(k.online for k in kiosks))

    def listing(request: Request, kind: str) -> dict[str, Any]:
        """The filters of an events or health page, and the page of events they select."""
        params = request.query_params
        day = _parse_day(params.get("day"))
        decision = params.get("decision") if params.get("decision") in DECISIONS else None
        where = EventFilter(kiosk_id=params.get("kiosk") or None, day=day, decision=decision,
                            label=params.get("label") or None, kind=kind)
        page = _page_number(request)
        events, total = data.events(where, (page - 1) * PAGE_SIZE, PAGE_SIZE)
        pages = max(1, -(-total // PAGE_SIZE))
        problem = f"'{params.get('day')}' is not a day (YYYY-MM-DD): showing every day." \
            if params.get("day") and day is None else ""
        return dict(where=where, events=events, total=total, page=page, pages=pages, problem=problem,
                    kiosk_ids=data.kiosk_ids(), decisions=DECISIONS,
                    labels=(*KNOWN_CLASSES, NO_FACE), first=(page - 1) * PAGE_SIZE + 1 if events else 0)

    @signed_in()
    def events_page(request: Request) -> Response:
        deleted = request.query_params.get("deleted", "")
        return render(request, "events.html", nav="events", deleted=deleted, **listing(request, "decision"))

    @signed_in()
    def health_page(request: Request) -> Response:
        return render(request, "health.html", nav="health", **listing(request, "health"))

    def _event_of(request: Request) -> Optional[ConsoleEvent]:
        return data.event(request.path_params["kiosk"], request.path_params["event_id"])

    @signed_in()
    def event_page(request: Request) -> Response:
        event = _event_of(request)
        if event is None:
            return error(request, 404, "There is no such event (it may have been deleted).")
        return render(request, "event.html", nav="events", event=event)

    def image(request: Request, thumbnail: bool) -> Response:
        kiosk, event_id = request.path_params["kiosk"], request.path_params["event_id"]
        # a thumbnail is the face where the store keeps it apart (LocalConsoleData.face_image)
        read = getattr(data, "face_image", data.snapshot) if thumbnail else data.snapshot
        picture = read(kiosk, event_id)
        if picture is not None and thumbnail:
            picture = thumbnail_png_of(picture, THUMBNAIL_PX)
        if picture is None:
            return Response("no image", status_code=404, media_type="text/plain")
        return Response(picture, media_type=_image_type(picture))

    @signed_in(kind="file")
    def image_full(request: Request) -> Response:
        return image(request, thumbnail=False)

    @signed_in(kind="file")
    def image_thumbnail(request: Request) -> Response:
        return image(request, thumbnail=True)

    @signed_in(admin=True, form=True)
    async def delete(request: Request) -> Response:
        kiosk, event_id = request.path_params["kiosk"], request.path_params["event_id"]
        if (await request.form()).get("confirm") != "yes":
            return error(request, 400, "Tick the box to confirm that this person's records are to be deleted.")
        deleted = await run_in_threadpool(data.delete_event, kiosk, event_id)
        if not deleted:
            return error(request, 404, "There is no such event (it may have been deleted already).")
        log.info("privacy request: %s deleted event %d of kiosk %s", request.state.session.user.name, event_id, kiosk)
        return RedirectResponse("/events?" + urlencode({"deleted": f"{kiosk} #{event_id}"}), status_code=303)

    def report_scope(request: Request) -> tuple[date, Optional[str]]:
        return _parse_day(request.query_params.get("day")) or _today(), request.query_params.get("kiosk") or None

    @signed_in()
    def reports_page(request: Request) -> Response:
        day, kiosk = report_scope(request)
        kiosks = data.kiosks(day)
        shown = [k for k in kiosks if kiosk in (None, k.kiosk_id)]
        totals = {key: sum(getattr(k, key) for k in shown) for key in DECISIONS}
        return render(request, "reports.html", nav="reports", day=day, kiosk=kiosk, kiosks=kiosks, shown=shown,
                      totals=totals, previous=day - timedelta(days=1), next_day=day + timedelta(days=1),
                      today=_today())

    @signed_in(kind="file")
    def report_chart(request: Request) -> Response:
        day, kiosk = report_scope(request)
        return Response(_chart_png(data.hourly_counts(day, kiosk), day), media_type="image/png")

    @signed_in(kind="file")
    def report_csv(request: Request) -> Response:
        """Every event of the day (demo events left out, like the report), oldest first."""
        day, kiosk = report_scope(request)
        where, rows = EventFilter(kiosk_id=kiosk, day=day, kind="any"), []
        while True:
            batch, total = data.events(where, len(rows), CSV_BATCH)
            rows += batch
            if not batch or len(rows) >= total:
                break
        rows = [e for e in reversed(rows) if e.source != DEMO_SOURCE]
        name = f"events-{day.isoformat()}{'-' + kiosk if kiosk else ''}.csv"
        return Response(_csv_text(rows), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{name}"'})

    routes = [
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", overview),
        Route("/events", events_page),
        Route("/events/{kiosk}/{event_id:int}", event_page),
        Route("/events/{kiosk}/{event_id:int}/image", image_full),
        Route("/events/{kiosk}/{event_id:int}/thumbnail", image_thumbnail),
        Route("/events/{kiosk}/{event_id:int}/delete", delete, methods=["POST"]),
        Route("/reports", reports_page),
        Route("/reports/chart.png", report_chart),
        Route("/reports/events.csv", report_csv),
        Route("/health", health_page),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    async def unavailable(request: Request, exc: Exception) -> Response:
        """The store cannot be read (the fleet database is down, the log damaged): one line in the
        log, a page that says so, and the console keeps running."""
        log.warning("console: %s", exc)
        return error(request, 503, f"The events cannot be read just now: {exc}")

    app = Starlette(routes=routes, exception_handlers={KioskError: unavailable})
    app.add_middleware(SecurityHeaders)
    return app
