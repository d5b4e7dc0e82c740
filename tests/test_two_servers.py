"""
Two app servers, one PostgreSQL database and one Redis cache: the deployment shape of docs/installation.md
("Several app servers"), proven over HTTP. Whatever one server does, the other knows at its next request.

Each server is a real gunicorn with two worker processes (DEBUG off, tests/server_settings.py), so every
request may land on another process as well as on another server. The tests drive them as browsers do, with
``requests`` sessions through Wagtail's login and the package's pages, reading setup keys and recovery codes
off the HTML and computing codes as an authenticator app would. Nothing here imports the package: only the
fixtures seed users and companies through the ORM, so these tests keep holding whatever the package's insides
become.

Needs PostgreSQL (``DATABASE_URL``) and Redis (127.0.0.1:6379, or ``MFA_SERVERS_REDIS_URL``); skipped, with
the reason, without them. CI insists that they ran.
"""

from __future__ import annotations

import base64
import email
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from django.db import connection
from factories import (
    PASSWORD,
    POLICY_CONFIRMATION_FIELD,
    days_from_today,
    join,
    make_company,
    make_user,
    policy_confirmation_token,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.servers,
    # The servers only see committed rows; serialized_rollback restores what Wagtail's migrations made.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="two app servers need one shared PostgreSQL database"
    ),
]

TESTS_DIR = Path(__file__).resolve().parent
REDIS_URL = os.environ.get("MFA_SERVERS_REDIS_URL", "redis://127.0.0.1:6379/0")
HTTP_TIMEOUT = 30
START_TIMEOUT = 60
STEP = 30  # seconds per TOTP time step (SEC-02)
REMINDER_MEMBERS = 12


# The servers ------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Servers:
    a: Server
    b: Server
    env: dict
    key_prefix: str
    email_dir: Path

    def logs(self, last: int = 6000) -> str:
        """The end of both servers' output, for a failure message."""
        return "".join(
            f"\n----- server {server.name} ({server.url}) -----\n{server.log()[-last:]}"
            for server in (self.a, self.b)
        )


def start_server(name: str, env: dict, work_dir: Path) -> Server:
    import gunicorn

    port = free_port()
    log_path = work_dir / f"server-{name}.log"
    options = [
        f"--bind=127.0.0.1:{port}",
        # Two processes per server: the next request of a browser may land on either.
        "--workers=2",
        "--timeout=60",
        "--graceful-timeout=2",
        "--error-logfile=-",
    ]
    if gunicorn.version_info >= (25, 1):
        # Its control socket is in the home directory by default: one per server, or the second one fails.
        options.append(f"--control-socket={work_dir / f'server-{name}.ctl'}")
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 (a fixed command line)
            [sys.executable, "-m", "gunicorn", *options, "django.core.wsgi:get_wsgi_application()"],
            # tests/ (not the checkout) first on sys.path, as for pytest: the package is the installed one.
            cwd=TESTS_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(name=name, process=process, url=f"http://127.0.0.1:{port}", log_path=log_path)


def wait_until_ready(server: Server) -> None:
    import requests

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"Server {server.name} exited with {server.process.returncode}:\n{server.log()}")
        try:
            # The first request of a worker loads the URLs and templates: give it time.
            if requests.get(f"{server.url}/admin/login/", timeout=START_TIMEOUT).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"Server {server.name} did not answer within {START_TIMEOUT} s:\n{server.log()}")


def stop_server(server: Server) -> None:
    if server.process.poll() is not None:
        return
    os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)


@pytest.fixture(scope="module")
def servers(django_db_setup, tmp_path_factory):
    pytest.importorskip("gunicorn", reason="gunicorn is in the testing extra: pip install -e '.[testing]'")
    redis = pytest.importorskip("redis", reason="redis is in the testing extra: pip install -e '.[testing]'")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not answering at {REDIS_URL} ({exc}); .ci/run shows how to start it")

    key_prefix = f"mfa-two-servers-{uuid.uuid4().hex}"
    work_dir = tmp_path_factory.mktemp("two-servers")
    email_dir = work_dir / "emails"
    email_dir.mkdir()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "server_settings",
        "PYTHONPATH": str(TESTS_DIR),
        "MFA_SERVERS_DATABASE_NAME": connection.settings_dict["NAME"],
        "MFA_SERVERS_REDIS_URL": REDIS_URL,
        "MFA_SERVERS_KEY_PREFIX": key_prefix,
        "MFA_SERVERS_EMAIL_DIR": str(email_dir),
    }
    started = []
    try:
        for name in ("A", "B"):
            started.append(start_server(name, env, work_dir))
        for server in started:
            wait_until_ready(server)
        yield Servers(*started, env=env, key_prefix=key_prefix, email_dir=email_dir)
    finally:
        for server in started:
            stop_server(server)
        for key in client.scan_iter(match=f"{key_prefix}:*"):
            client.delete(key)
        client.close()


# A browser --------------------------------------------------------------------------------------------------


class _PageParser(HTMLParser):
    """The forms (with their fields' current values), links and ``id``-ed inputs of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.links: list[tuple[str, str]] = []
        self.inputs_by_id: dict[str, str] = {}
        self.secrets_by_id: dict[str, str] = {}
        self._form = None
        self._select = None
        self._textarea = None
        self._link = None

    def handle_starttag(self, tag, attrs):
        attrs = {key: value if value is not None else "" for key, value in attrs}
        if tag == "form":
            self._form = {"action": attrs.get("action", ""), "method": attrs.get("method", "get").lower()}
            self._form["fields"] = {}
            self._form["names"] = set()
            self.forms.append(self._form)
        if "data-mfa-value" in attrs and "id" in attrs:
            # A secret shown as text (a setup key, a recovery code): its value as shown.
            self.secrets_by_id[attrs["id"]] = attrs["data-mfa-value"]
        if tag == "input":
            if "id" in attrs:
                self.inputs_by_id[attrs["id"]] = attrs.get("value", "")
            kind = attrs.get("type", "text").lower()
            name = attrs.get("name")
            if self._form is None or not name or kind in ("submit", "button", "image", "file"):
                return
            self._form["names"].add(name)
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            self._form["fields"][name] = attrs.get("value", "on" if kind == "checkbox" else "")
        elif tag == "select" and self._form is not None:
            self._select = attrs.get("name")
            self._form["names"].add(self._select)
        elif tag == "option" and self._select and "selected" in attrs:
            self._form["fields"][self._select] = attrs.get("value", "")
        elif tag == "textarea" and self._form is not None:
            self._textarea = attrs.get("name")
            self._form["names"].add(self._textarea)
            self._form["fields"][self._textarea] = ""
        elif tag == "a" and "href" in attrs:
            self._link = [attrs["href"], ""]

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "a" and self._link is not None:
            self.links.append((self._link[0], " ".join(self._link[1].split())))
            self._link = None

    def handle_data(self, data):
        if self._textarea and self._form is not None:
            self._form["fields"][self._textarea] += data
        if self._link is not None:
            self._link[1] += data


class Page:
    """A response as a browser shows it: where it landed, its text, its forms and links."""

    def __init__(self, response):
        self.response = response
        self.status = response.status_code
        self.url = response.url
        self.path = urlsplit(response.url).path
        self.html = response.text
        self.parsed = _PageParser()
        self.parsed.feed(self.html)

    def shows(self, text: str) -> bool:
        return text in self.html

    def form(self, field_name: str) -> dict:
        for form in self.parsed.forms:
            if form["method"] == "post" and field_name in form["names"]:
                return form
        raise AssertionError(f"No form with {field_name!r} at {self.url}:\n{self.html[:3000]}")

    def link(self, text: str) -> str:
        for href, label in self.parsed.links:
            if label == text:
                return urljoin(self.url, href)
        raise AssertionError(f"No link {text!r} at {self.url}")

    def input_value(self, element_id: str) -> str:
        return self.parsed.inputs_by_id[element_id]

    def secret(self, element_id: str) -> str:
        return self.parsed.secrets_by_id[element_id]

    def __repr__(self):
        return f"<Page {self.status} {self.url}>"


class Browser:
    """One browser: its own cookies (for 127.0.0.1, so for both servers, as a real browser keeps them)."""

    def __init__(self):
        import requests

        self.http = requests.Session()
        self.http.headers["User-Agent"] = "wagtail-company-mfa two-server test"

    def get(self, server: Server, path: str) -> Page:
        return Page(self.http.get(urljoin(server.url, path), timeout=HTTP_TIMEOUT))

    def submit(self, page: Page, data: dict, *, follow: bool = True, field: str | None = None) -> Page:
        """Fill in the page's form (the one with ``field``, or the first field of ``data``) and send it."""
        form = page.form(field or next(iter(data)))
        response = self.http.post(
            urljoin(page.url, form["action"] or page.url),
            data={**form["fields"], **data},
            allow_redirects=follow,
            timeout=HTTP_TIMEOUT,
        )
        return Page(response)

    def post(self, server: Server, path: str, data: dict | None = None) -> Page:
        """A POST as the page's JavaScript sends it (Wagtail's sign-out), the CSRF token from the cookie."""
        token = self.http.cookies.get("csrftoken", "")
        response = self.http.post(
            urljoin(server.url, path),
            data={"csrfmiddlewaretoken": token, **(data or {})},
            headers={"Referer": server.url + "/admin/"},
            timeout=HTTP_TIMEOUT,
        )
        return Page(response)

    def follow(self, page: Page) -> Page:
        """Follow the redirect of a response that was not followed."""
        location = page.response.headers["Location"]
        return Page(self.http.get(urljoin(page.url, location), timeout=HTTP_TIMEOUT))

    @property
    def session_cookie(self) -> str:
        return self.http.cookies.get("sessionid", "")

    @classmethod
    def with_session_cookie(cls, value: str) -> Browser:
        browser = cls()
        browser.http.cookies.set("sessionid", value, domain="127.0.0.1", path="/")
        return browser


class Phone:
    """The authenticator app, set up by typing the setup key the enrollment page shows."""

    #: Seconds a request may take to reach the server: a code must still be in its window then.
    MARGIN = 3.0

    def __init__(self, setup_key: str):
        key = setup_key.replace(" ", "").upper()
        secret = base64.b32decode(key + "=" * (-len(key) % 8))
        self.totp = TOTP(secret, 6, SHA1(), STEP, enforce_key_length=False)  # noqa: S303 - RFC 6238
        self.last_step = -1

    def code_at_step(self, step: int) -> str:
        return self.totp.generate(step * STEP).decode()

    def fresh_code(self) -> str:
        """
        The code of the earliest time step the server still accepts and has not seen yet (SEC-04: now ±1;
        SEC-05: only steps after the last one accepted). Three codes are available without waiting.
        """
        while True:
            now = time.time()
            earliest = int((now + self.MARGIN) // STEP) - 1
            latest = int(now // STEP) + 1
            step = max(self.last_step + 1, earliest)
            if step <= latest:
                self.last_step = step
                return self.code_at_step(step)
            time.sleep((step - 1) * STEP - now + 0.05)

    def wrong_code(self) -> str:
        now_step = int(time.time() // STEP)
        valid = {self.code_at_step(step) for step in range(now_step - 2, now_step + 3)}
        return next(code for code in ("000000", "111111", "222222") if code not in valid)


# The steps a person takes -----------------------------------------------------------------------------------


def sign_in(browser: Browser, server: Server, user) -> Page:
    """Wagtail's password step."""
    page = browser.get(server, "/admin/login/")
    return browser.submit(page, {"username": user.get_username(), "password": PASSWORD})


def reauthenticate_if_asked(browser: Browser, page: Page, phone: Phone | None = None) -> Page:
    if "/company-mfa/reauthenticate/" not in page.path:
        return page
    data = {"password": PASSWORD}
    if phone is not None and page.shows('name="mfa-code"'):
        data["mfa-code"] = phone.fresh_code()
    return browser.submit(page, data)


def enroll(browser: Browser, server: Server, user, servers: Servers) -> tuple[Phone, str]:
    """
    A REQUIRED member's forced enrollment, from the password step: "Authenticator app", the password again if
    asked,
    the setup key and a code, the recovery code saved. Leaves the browser verified on the dashboard.
    """
    page = sign_in(browser, server, user)
    assert page.path == "/admin/company-mfa/required/", (page, servers.logs())
    page = reauthenticate_if_asked(browser, browser.get(server, page.link("Authenticator app")))
    assert page.path == "/admin/company-mfa/enroll/", (page, servers.logs())
    phone = Phone(page.secret("mfa-setup-key"))
    page = browser.submit(page, {"code": phone.fresh_code()})
    assert page.path == "/admin/company-mfa/recovery-code/", (page, servers.logs())
    recovery_code = page.secret("mfa-recovery-code-1")
    page = browser.submit(page, {"confirm": "on"})
    assert (page.status, page.path) == (200, "/admin/"), (page, servers.logs())
    assert page.shows("Two-factor authentication is on for your account.")
    return phone, recovery_code


def on_dashboard(page: Page) -> bool:
    return page.status == 200 and page.path == "/admin/"


# The people -------------------------------------------------------------------------------------------------


@pytest.fixture
def member(company_required):
    user = make_user("alice", first_name="Alice", last_name="Archer")
    join(user, company_required)
    return user


# The scenarios ----------------------------------------------------------------------------------------------


def test_enrolled_on_a_signs_in_on_b(servers, member):
    phone, recovery_code = enroll(Browser(), servers.a, member, servers)
    assert len(recovery_code) == 19

    # A new browser on the other server: the device saved by A verifies there.
    browser = Browser()
    page = sign_in(browser, servers.b, member)
    assert page.path == "/admin/company-mfa/verify/", (page, servers.logs())
    assert page.shows("Verify your identity")
    page = browser.submit(page, {"code": phone.fresh_code()})
    assert on_dashboard(page), (page, servers.logs())
    # Its next requests, to either server and any worker, stay verified.
    assert on_dashboard(browser.get(servers.a, "/admin/"))
    assert on_dashboard(browser.get(servers.b, "/admin/"))


def test_a_code_accepted_on_a_is_refused_on_b(servers, member):
    # SEC-05, SEC-06: the last accepted step lives in the database, not in a server.
    phone, _recovery_code = enroll(Browser(), servers.a, member, servers)
    on_a, on_b = Browser(), Browser()
    page_a = sign_in(on_a, servers.a, member)
    page_b = sign_in(on_b, servers.b, member)
    code = phone.fresh_code()

    assert on_dashboard(on_a.submit(page_a, {"code": code})), servers.logs()
    replayed = on_b.submit(page_b, {"code": code})
    assert replayed.path == "/admin/company-mfa/verify/", (replayed, servers.logs())
    # The same words as for a wrong code: a replay tells an attacker nothing more.
    assert replayed.shows("That code didn&#x27;t work.")
    assert browser_is_not_verified(on_b, servers.b)

    # The refusal was the replay, nothing else: the next code works on B, once the one-second delay that a
    # refused code starts (SEC-10) is over.
    time.sleep(1.2)
    assert on_dashboard(on_b.submit(replayed, {"code": phone.fresh_code()})), servers.logs()


def browser_is_not_verified(browser: Browser, server: Server) -> bool:
    page = browser.get(server, "/admin/pages/")
    return page.path == "/admin/company-mfa/verify/"


def test_wrong_codes_on_a_throttle_b(servers, member):
    # SEC-10, SEC-11, SEC-12: the failure count is per device, in the database: every server sees it.
    phone, _recovery_code = enroll(Browser(), servers.a, member, servers)
    attacker, owner = Browser(), Browser()
    attack = sign_in(attacker, servers.a, member)
    own = sign_in(owner, servers.b, member)

    # Three wrong codes, each after the delay the previous one started (1 s, then 2 s): the next try must
    # wait 4 s.
    for wait in (1.2, 2.2, 0):
        attack = attacker.submit(attack, {"code": phone.wrong_code()})
        assert attack.shows("That code didn&#x27;t work."), (attack, servers.logs())
        time.sleep(wait)
    locked_at = time.monotonic()

    # On B, the owner's page says so, and even the right code is refused while the delay lasts.
    own = owner.get(servers.b, "/admin/company-mfa/verify/")
    assert own.shows("Too many wrong codes. You can try again in"), (own, servers.logs())
    right_code = phone.fresh_code()
    refused = owner.submit(own, {"code": right_code})
    assert refused.path == "/admin/company-mfa/verify/", (
        refused,
        f"{time.monotonic() - locked_at:.1f} s after the third wrong code (the delay is 4 s)",
        servers.logs(),
    )
    assert refused.shows("Too many wrong codes. You can try again in")
    assert browser_is_not_verified(owner, servers.b)

    # Once the delay is over, the right code works on B.
    time.sleep(max(0.0, locked_at + 4.5 - time.monotonic()))
    accepted = owner.submit(refused, {"code": phone.fresh_code()})
    assert on_dashboard(accepted), (accepted, servers.logs())


def test_reset_on_a_ends_the_verified_session_on_b(servers, company_required, member):
    # SEC-36, SEC-40: the member's sessions end on every server, at their next request.
    admin = make_user("anna", first_name="Anna", last_name="Admin")
    join(admin, company_required, role="admin")
    members_browser = Browser()
    enroll(members_browser, servers.b, member, servers)
    admins_browser = Browser()
    admin_phone, _recovery_code = enroll(admins_browser, servers.a, admin, servers)

    page = admins_browser.get(
        servers.a, f"/admin/company-mfa/companies/reset/{member.pk}/?company={company_required.pk}"
    )
    page = reauthenticate_if_asked(admins_browser, page, admin_phone)
    assert page.shows("I have verified this person&#x27;s request"), (page, servers.logs())
    assert on_dashboard(members_browser.get(servers.b, "/admin/"))  # still in, until the reset

    page = admins_browser.submit(page, {"confirm": "on"})
    assert page.status == 200, (page, servers.logs())
    assert page.shows("they were signed out everywhere"), (page, servers.logs())

    page = members_browser.get(servers.b, "/admin/")
    assert page.path == "/admin/login/", (page, servers.logs())
    # Signing in again on B leads to setting MFA up: the authenticator is gone too.
    page = sign_in(members_browser, servers.b, member)
    assert page.path == "/admin/company-mfa/required/", (page, servers.logs())


def test_trust_granted_on_a_is_used_on_b_revoked_on_a_and_refused_on_b(servers, company_required, member):
    # SEC-36, SEC-38: a trusted browser is a row in the database (its token's HMAC), not a server's memory.
    company_required.trust_browser_for = 24 * 7
    company_required.save()
    browser = Browser()
    phone, _recovery_code = enroll(browser, servers.a, member, servers)
    browser.post(servers.a, "/admin/logout/")

    page = sign_in(browser, servers.a, member)
    assert page.path == "/admin/company-mfa/verify/", (page, servers.logs())
    assert page.shows("Trust this browser for 7 days")
    page = browser.submit(page, {"code": phone.fresh_code(), "trust_browser": "on"})
    assert on_dashboard(page), (page, servers.logs())
    assert browser.http.cookies.get("wagtail_company_mfa_trusted")
    browser.post(servers.a, "/admin/logout/")

    # On B: the password only.
    assert on_dashboard(sign_in(browser, servers.b, member)), servers.logs()
    browser.post(servers.b, "/admin/logout/")

    # Another browser of the member's, on A, stops trusting every browser.
    other = Browser()
    page = sign_in(other, servers.a, member)
    assert on_dashboard(other.submit(page, {"code": phone.fresh_code()})), servers.logs()
    page = other.post(servers.a, "/admin/company-mfa/security/trusted-browsers/stop-all/")
    assert page.path == "/admin/account/", (page, servers.logs())

    # The first browser still holds its cookie: B refuses it, clears it and asks for the code.
    assert browser.http.cookies.get("wagtail_company_mfa_trusted")
    page = sign_in(browser, servers.b, member)
    assert page.path == "/admin/company-mfa/verify/", (page, servers.logs())
    assert not browser.http.cookies.get("wagtail_company_mfa_trusted")


def test_require_mfa_switched_on_at_a_gates_an_open_session_on_b(servers):
    # SEC-37: an open password-only session is gated at its next request, whichever server it reaches.
    company = make_company("Cedar Homes", require_mfa=False)
    carol = make_user("carol")
    join(carol, company)
    root = make_user("root", superuser=True)

    carols_browser = Browser()
    assert on_dashboard(sign_in(carols_browser, servers.b, carol)), servers.logs()

    roots_browser = Browser()
    assert on_dashboard(sign_in(roots_browser, servers.a, root)), servers.logs()
    page = roots_browser.get(servers.a, f"/admin/company-mfa/companies/edit/{company.pk}/")
    policy = {"require_mfa": "on", "enforcement_date": days_from_today(-1).isoformat()}
    page = roots_browser.submit(page, policy, field="name")
    # Carol will be emailed: the form asks to confirm first, and the button confirms.
    assert page.shows("Saving will email 1 member about the new date."), (page, servers.logs())
    token = policy_confirmation_token(page.response)
    page = roots_browser.submit(page, {**policy, POLICY_CONFIRMATION_FIELD: token}, field="name")
    assert page.shows("Company &#x27;Cedar Homes&#x27; updated."), (page, servers.logs())

    page = carols_browser.get(servers.b, "/admin/pages/")
    assert page.path == "/admin/company-mfa/required/", (page, servers.logs())
    assert page.shows("Two-factor authentication required")
    assert page.shows("Cedar Homes")


def test_sign_out_on_a_ends_the_session_on_b(servers, member):
    # SEC-31: sign-out flushes the session in the shared store, so the same cookie is dead on B as well.
    browser = Browser()
    enroll(browser, servers.a, member, servers)
    # The verified session is one session for both servers.
    assert on_dashboard(browser.get(servers.b, "/admin/"))
    cookie = browser.session_cookie
    assert cookie

    page = browser.post(servers.a, "/admin/logout/")
    assert page.path == "/admin/login/", (page, servers.logs())

    replayed = Browser.with_session_cookie(cookie).get(servers.b, "/admin/")
    assert replayed.path == "/admin/login/", (replayed, servers.logs())


def test_one_recovery_code_raced_on_both_servers_is_accepted_once(servers, member):
    # SEC-18, SEC-06: one code, six browsers, two servers, four processes, the same moment: one success.
    _phone, recovery_code = enroll(Browser(), servers.a, member, servers)
    racers = []
    for server in (servers.a, servers.b) * 3:
        browser = Browser()
        assert sign_in(browser, server, member).path == "/admin/company-mfa/verify/", servers.logs()
        racers.append((browser, browser.get(server, "/admin/company-mfa/verify/recovery-code/")))

    barrier = threading.Barrier(len(racers))
    results: dict[int, Page] = {}

    def race(index, browser, page):
        barrier.wait(timeout=30)
        results[index] = browser.submit(page, {"code": recovery_code}, follow=False)

    threads = [threading.Thread(target=race, args=(i, *racer)) for i, racer in enumerate(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == len(racers), servers.logs()

    winners = [i for i, page in results.items() if page.status == 302]
    assert len(winners) == 1, ({i: page.status for i, page in results.items()}, servers.logs())
    assert all(page.status == 200 for i, page in results.items() if i not in winners)
    (winner,) = winners
    page = racers[winner][0].follow(results[winner])
    assert page.path == "/admin/company-mfa/recovery-code/", (page, servers.logs())
    assert page.secret("mfa-recovery-code-1") != recovery_code


# Two reminder runs at once ----------------------------------------------------------------------------------

#: Start the real command line once Django is set up, and only when the test says go: the two runs then
#: plan, claim and send at the same moment instead of one after the other's start-up.
RUN_WHEN_TOLD = """
import os, sys, time
import django
django.setup()
go = os.environ["MFA_SERVERS_GO_FILE"]
deadline = time.monotonic() + 60
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.01)
from django.core.management import execute_from_command_line
execute_from_command_line(["django-admin", *sys.argv[1:]])
"""


@dataclass
class Mailbox:
    directory: Path
    recipients: Counter = field(default_factory=Counter)

    def read(self) -> Counter:
        """Who got how many emails: the file backend writes each message after a line of 79 dashes."""
        self.recipients = Counter()
        for path in self.directory.glob("*.log"):
            for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
                if chunk.strip():
                    self.recipients[email.message_from_bytes(chunk)["To"]] += 1
        return self.recipients


def run_reminders_at_once(servers: Servers, email_dir: Path, runs: int) -> list[subprocess.CompletedProcess]:
    go = email_dir.parent / f"go-{uuid.uuid4().hex}"
    env = {**servers.env, "MFA_SERVERS_EMAIL_DIR": str(email_dir), "MFA_SERVERS_GO_FILE": str(go)}
    processes = [
        subprocess.Popen(  # noqa: S603 (a fixed command line)
            [sys.executable, "-c", RUN_WHEN_TOLD, "mfa_send_reminders", "--batch-size=1"],
            cwd=TESTS_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(runs)
    ]
    time.sleep(0.5)
    go.touch()
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return results


def test_two_reminder_runs_at_once_send_each_email_once(servers, tmp_path):
    # SPEC §3.6: "idempotent: nobody gets the same reminder twice", even from two cron hosts at once.
    company = make_company("Bluebird Contracting", require_mfa=True, enforcement_date=days_from_today(2))
    members = [make_user(f"member{i}") for i in range(REMINDER_MEMBERS)]
    for person in members:
        join(person, company)
    email_dir = tmp_path / "emails"
    email_dir.mkdir()
    mailbox = Mailbox(email_dir)

    for run in run_reminders_at_once(servers, email_dir, runs=2):
        assert run.returncode == 0, (run.stdout, run.stderr)
    expected = {person.email: 1 for person in members}
    assert dict(mailbox.read()) == expected

    # A later run finds nothing left to send.
    (again,) = run_reminders_at_once(servers, email_dir, runs=1)
    assert again.returncode == 0, (again.stdout, again.stderr)
    assert dict(mailbox.read()) == expected
