"""The console's security rules, through Starlette's TestClient on a real event log and accounts
file: every page and image needs a session, forms need their CSRF token, viewers cannot delete,
failed logins lock out, cookies are HttpOnly/SameSite (Secure over https), no secret is logged."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

from kiosk.events.store import EventStore
from kiosk.web.accounts import AccountStore
from kiosk.web.app import LOGIN_COOKIE, SESSION_COOKIE, ConsoleSettings, build_app
from kiosk.web.local_data import LocalConsoleData
from kiosk.web.throttle import LoginThrottle
from tests.web.conftest import ADMIN, VIEWER, csrf_of, sign_in

PAGES = ["/", "/events", "/events?kiosk=north-door&decision=denied", "/events/north-door/{denial}", "/reports",
         "/reports?day=2026-01-01&kiosk=south-door", "/health"]
FILES = ["/events/north-door/{denial}/image", "/events/north-door/{denial}/thumbnail", "/reports/chart.png",
         "/reports/events.csv"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def console(world):
    """(app factory, world): ``make(**settings)`` builds the app over the world's files."""
    opened = []

    def make(throttle=None, **settings):
        store = EventStore(world.cfg.resolve_path(world.cfg.storage.database))
        accounts = AccountStore(world.users_db)
        opened.extend([store, accounts])
        data = LocalConsoleData(world.cfg, store, online_within_s=600)
        return build_app(data, accounts, ConsoleSettings(**settings), throttle)
    yield make, world
    for thing in opened:
        thing.close()


def _urls(world, templates):
    return [url.format(denial=world.ids["north-door"][2]) for url in templates]


def test_without_a_session_every_page_redirects_to_login_and_every_file_is_refused(console):
    make, world = console
    client = TestClient(make(), follow_redirects=False)
    for url in _urls(world, PAGES):
        response = client.get(url)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=%2F"), url
    for url in _urls(world, FILES):
        response = client.get(url)
        assert response.status_code == 401 and b"\xff\xd8" not in response.content, url
    assert client.post(f"/events/north-door/{world.ids['north-door'][2]}/delete", data={"csrf": "x"}).status_code == 401
    assert client.post("/logout").status_code == 401


def test_a_session_opens_every_page_and_file_and_logout_closes_it(console):
    make, world = console
    client = TestClient(make())
    assert sign_in(client, *VIEWER).url.path == "/"
    for url in _urls(world, PAGES + FILES):
        response = client.get(url)
        assert response.status_code == 200 and response.headers["cache-control"] == "no-store", url
        assert response.headers["x-frame-options"] == "DENY" and "frame-ancestors 'none'" in \
            response.headers["content-security-policy"]
    image = client.get(_urls(world, FILES)[0])
    assert image.headers["content-type"] == "image/jpeg" and image.content[:2] == b"\xff\xd8"
    stolen = client.cookies.get(SESSION_COOKIE)
    client.post("/logout", data={"csrf": csrf_of(client.get("/").text)})
    assert client.get("/", follow_redirects=False).status_code == 303
    replay = TestClient(make(), cookies={SESSION_COOKIE: stolen}, follow_redirects=False)
    assert replay.get(_urls(world, FILES)[0]).status_code == 401  # a closed session opens nothing


def test_login_goes_back_to_the_page_asked_for_but_never_to_another_site(console):
    make, _ = console
    client = TestClient(make())
    assert sign_in(client, *ADMIN, next="/health?kiosk=south-door").url.path == "/health"
    for elsewhere in ("//evil.example/phish", "/\t/evil.example", "https://evil.example/", "/\\evil.example"):
        other = TestClient(make(), follow_redirects=False)
        assert sign_in(other, *ADMIN, next=elsewhere).headers["location"] == "/", elsewhere


def test_cookies_are_httponly_samesite_and_secure_over_https(console):
    make, _ = console
    plain = TestClient(make(), follow_redirects=False)
    login_cookie = plain.get("/login").headers["set-cookie"]
    assert LOGIN_COOKIE in login_cookie and "HttpOnly" in login_cookie and "SameSite=strict" in login_cookie
    session_cookie = sign_in(plain, *ADMIN).headers.get_list("set-cookie")
    session_cookie = next(c for c in session_cookie if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie and "Secure" not in session_cookie
    behind_tls = TestClient(make(), base_url="https://console.example", follow_redirects=False)
    cookie = next(c for c in sign_in(behind_tls, *ADMIN).headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "Secure" in cookie
    configured = TestClient(make(secure_cookies=True), follow_redirects=False)
    assert "Secure" in configured.get("/login").headers["set-cookie"]


def test_forms_without_their_csrf_token_are_refused(console):
    make, world = console
    client = TestClient(make(), follow_redirects=False)
    client.get("/login")
    assert client.post("/login", data={"name": ADMIN[0], "password": ADMIN[1]}).status_code == 403
    assert client.post("/login", data={"name": ADMIN[0], "password": ADMIN[1], "csrf": "forged"}).status_code == 403
    assert SESSION_COOKIE not in client.cookies
    sign_in(client, *ADMIN)
    denial = world.ids["north-door"][2]
    assert client.post("/logout", data={}).status_code == 403
    assert client.post(f"/events/north-door/{denial}/delete", data={"confirm": "yes"}).status_code == 403
    assert client.post(f"/events/north-door/{denial}/delete",
                       data={"confirm": "yes", "csrf": "forged"}).status_code == 403
    assert client.get(f"/events/north-door/{denial}").status_code == 200  # still there


def test_a_viewer_cannot_delete_and_an_admin_can(console):
    make, world = console
    denial = world.ids["north-door"][2]
    viewer = TestClient(make(), follow_redirects=False)
    sign_in(viewer, *VIEWER)
    page = viewer.get(f"/events/north-door/{denial}").text
    assert "/delete" not in page  # no delete form for a viewer
    refused = viewer.post(f"/events/north-door/{denial}/delete", data={"confirm": "yes", "csrf": csrf_of(page)})
    assert refused.status_code == 403 and viewer.get(f"/events/north-door/{denial}/image").status_code == 200
    admin = TestClient(make(), follow_redirects=False)
    sign_in(admin, *ADMIN)
    page = admin.get(f"/events/north-door/{denial}").text
    unconfirmed = admin.post(f"/events/north-door/{denial}/delete", data={"csrf": csrf_of(page)})
    assert unconfirmed.status_code == 400
    done = admin.post(f"/events/north-door/{denial}/delete", data={"confirm": "yes", "csrf": csrf_of(page)})
    assert done.status_code == 303 and done.headers["location"].startswith("/events?deleted=")
    assert admin.get(f"/events/north-door/{denial}").status_code == 404
    assert admin.get(f"/events/north-door/{denial}/image").status_code == 404


def test_repeated_failed_logins_lock_out_the_name_and_the_address_with_a_doubling_wait(console):
    make, _ = console
    clock = FakeClock()
    client = TestClient(make(throttle=LoginThrottle(free_failures=3, first_wait_s=30, clock=clock)),
                        follow_redirects=False)
    for _ in range(2):
        assert sign_in(client, ADMIN[0], "wrong password").status_code == 401
    third = sign_in(client, ADMIN[0], "wrong password")
    assert third.status_code == 401 and "wait 30 seconds" in third.text
    locked = sign_in(client, *ADMIN)  # even the right password waits
    assert locked.status_code == 429 and "Try again in 30 seconds" in locked.text
    assert sign_in(client, *VIEWER).status_code == 429  # the same address, another name
    other_address = TestClient(client.app, client=("10.0.0.9", 5000), follow_redirects=False)
    assert sign_in(other_address, *ADMIN).status_code == 429  # the same name, another address
    clock.now += 31
    assert "wait 60 seconds" in sign_in(client, ADMIN[0], "wrong again").text  # the wait doubles
    clock.now += 61
    assert sign_in(client, *ADMIN).status_code == 303  # and a success clears it
    assert sign_in(TestClient(client.app, follow_redirects=False), *VIEWER).status_code == 303


def test_no_password_or_session_token_is_logged(console, caplog):
    make, world = console
    caplog.set_level(logging.DEBUG)
    client = TestClient(make(), follow_redirects=False)
    sign_in(client, ADMIN[0], "not-the-password-1")
    sign_in(client, "admin-password-1", "oops typed the password as the name")
    sign_in(client, *ADMIN)
    token = client.cookies.get(SESSION_COOKIE)
    denial = world.ids["north-door"][2]
    page = client.get(f"/events/north-door/{denial}").text
    client.post(f"/events/north-door/{denial}/delete", data={"confirm": "yes", "csrf": csrf_of(page)})
    logged = caplog.text
    assert "failed console login" in logged and "console login: alice (admin)" in logged
    assert "privacy request: alice deleted event" in logged
    for secret in (ADMIN[1], "not-the-password-1", "admin-password-1", token, csrf_of(page)):
        assert secret not in logged
