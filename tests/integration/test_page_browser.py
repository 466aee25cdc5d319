"""The page in a real browser (headless Chromium, tests/integration/lib/
sbxbrowser.py) against the running stack: sign-in through the local IdP,
keyboard-only creation, a sandbox turning ACTIVE with its outputs, extend
(the countdown moves; never past max_expiry_time), history, a server-side
validation error at its field, delete (TERMINATED), one user not seeing
another's sandbox, an admin seeing it and filtering by owner, the admin
views, API tokens (create, use through the API, revoke), an expired
session, and sign-out.

Every view is checked for console errors and CSP violations, for
horizontal scrolling at 360 px, and photographed into
$SBX_STATE_DIR/screenshots/. The functions run in order and share three
browsers (one per person)."""

import datetime
import time

import sbxtest as t
import sbxsandbox as s
import authflow as af
from sbxbrowser import Browser, By, Keys, base_url

ADMIN = "admin@example.com"
ALICE = s.fresh_email("pg-alice")
BOB = s.fresh_email("pg-bob")
NAME = s.fresh_name("kb")           # created with the keyboard, in the page
OTHER = s.fresh_name("api")         # alice's, made through the API

B = {}                              # label -> Browser


def browser(label):
    if label not in B:
        B[label] = Browser(label)
    return B[label]


def card(b, name):
    return b.wait_css('li.card[data-name="%s"]' % name)


def card_status(b, name):
    els = b.all('li.card[data-name="%s"] .badge[data-status]' % name)
    return els[0].get_attribute("data-status") if els else None


def countdown_ms(b, name):
    return int(b.css('li.card[data-name="%s"] .countdown' % name).get_attribute("data-ms"))


def dialog(b):
    return b.wait_css("dialog[open]")


def wait_dialog_closed(b):
    b.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, "dialog[open]"),
           what="the dialog to close")


def go(b, hash_, ready_css):
    b.js("location.hash = arguments[0]", hash_)
    return b.wait_css(ready_css)


def db_sandbox(name):
    rows = t.psql("SELECT status, floor(extract(epoch FROM expiry_time))::bigint, "
                  "floor(extract(epoch FROM max_expiry_time))::bigint "
                  "FROM sandboxes WHERE name = :'n' ORDER BY created_at DESC LIMIT 1", n=name)
    assert rows, "no row for %s" % name
    return rows[0][0], int(rows[0][1]), int(rows[0][2])


VIEWER_TZ = datetime.timezone(datetime.timedelta(hours=5, minutes=30))


def local_input(epoch):
    """A value for <input type=datetime-local> in the browsers' zone."""
    return datetime.datetime.fromtimestamp(epoch, VIEWER_TZ).strftime("%Y-%m-%dT%H:%M")


def viewer_time(epoch):
    """What the page shows for a time in the browsers' zone (UTC+05:30),
    as Intl's en-US medium date and short time: "Dec 7, 2026, 7:55 AM"."""
    d = datetime.datetime.fromtimestamp(epoch, VIEWER_TZ)
    return "%s %d, %d, %d:%02d %s" % (d.strftime("%b"), d.day, d.year, (d.hour % 12) or 12,
                                      d.minute, "AM" if d.hour < 12 else "PM")


def plain(text):
    """Text with every kind of space as one plain space."""
    return " ".join(text.replace("\u202f", " ").replace("\u00a0", " ").split())


def luminance(css_rgb):
    """0 (black) to 1 (white), from "rgb(r, g, b)"."""
    r, g, b_ = [int(x) for x in css_rgb[css_rgb.index("(") + 1:].rstrip(")").split(",")[:3]]
    return (0.2126 * r + 0.7152 * g + 0.0722 * b_) / 255


# ------------------------------------------------------------ the tests

def test_signed_out_page():
    # Pictures: alice's from this origin (loaded), bob's from a host the
    # policy does not allow (initials, and no request, so no violation).
    af.idp_user(ALICE, name="Alice Page", picture=base_url() + "/favicon.svg")
    af.idp_user(BOB, name="Bob Page", picture="https://pictures.example.net/bob.png")
    af.idp_user(ADMIN, name="Admin Tester", picture=base_url() + "/favicon.svg")
    b = browser("alice")
    b.open("/")
    b.wait_css("#signin")
    assert "Temporary AWS environments" in b.css("#signed-out h1").text
    assert not b.css("#nav").is_displayed()
    b.check_view("signed-out")


def test_sign_in_through_the_local_idp():
    b = browser("alice")
    b.sign_in(ALICE)
    assert b.css(".who .name").text.startswith("Alice Page")
    img = b.css("img.avatar")
    assert img.get_attribute("src") == base_url() + "/favicon.svg"
    assert b.js("return arguments[0].complete && arguments[0].naturalWidth > 0", img), \
        "the same-origin picture did not load"
    empty = b.wait_css(".empty")
    assert "no sandboxes yet" in empty.text and "New sandbox" in empty.text, empty.text
    b.check_view("my-sandboxes-empty")


def test_keyboard_only_creation():
    """From the page's top to a created sandbox with the keyboard alone:
    Tab to the navigation's "New sandbox", Enter, type, Tab, submit."""
    b = browser("alice")
    b.open("/#/")
    b.wait_css(".empty")
    b.tab_to(lambda el: el.get_attribute("data-route") == "#/new", what="New sandbox")
    b.keys(Keys.ENTER)
    b.wait(lambda d: b.active().get_attribute("name") == "name", what="focus on the name field")
    b.check_view("new-sandbox")
    b.keys(NAME)
    tpl = b.tab_to(lambda el: el.get_attribute("name") == "template", what="the template")
    desc = b.css("#%s-desc" % tpl.get_attribute("id")).text
    assert "t3.micro" in desc, "template description: %r" % desc
    ttl = b.tab_to(lambda el: el.get_attribute("name") == "ttl_minutes", what="the lifetime")
    assert ttl.get_attribute("max") == "240", ttl.get_attribute("max")
    b.keys(Keys.CONTROL, "a", Keys.NULL, "45")
    b.tab_to(lambda el: el.get_attribute("type") == "submit", what="Create sandbox")
    b.keys(Keys.ENTER)
    b.wait(lambda d: d.current_url.endswith("#/"), what="back to my sandboxes")
    card(b, NAME)
    status, expiry, _ = db_sandbox(NAME)
    assert status in ("PROVISIONING", "ACTIVE"), status
    created = t.psql("SELECT floor(extract(epoch FROM created_at))::bigint FROM sandboxes "
                     "WHERE name = :'n'", n=NAME)[0][0]
    assert abs(expiry - int(created) - 45 * 60) <= 2, "ttl was not 45 minutes"


def test_sandbox_turns_active_with_outputs():
    b = browser("alice")
    b.wait(lambda d: card_status(b, NAME) == "ACTIVE", timeout=60, what="ACTIVE")
    outs = b.all('li.card[data-name="%s"] .output' % NAME)
    keys = {o.get_attribute("data-output") for o in outs}
    assert {"InstanceId", "PublicIp"} <= keys, keys
    inst = b.css('li.card[data-name="%s"] .output[data-output="InstanceId"]' % NAME)
    value = inst.find_element(By.CSS_SELECTOR, ".v").text
    assert value.startswith("i-"), value
    copy = inst.find_element(By.CSS_SELECTOR, "button.copy")
    copy.click()
    b.wait(lambda d: copy.text == "Copied", what="the copy button to say Copied")
    assert b.js("return navigator.clipboard.readText()") == value, "clipboard"
    # The countdown runs: about 45 minutes left, going down.
    first = countdown_ms(b, NAME)
    assert 40 * 60000 < first <= 45 * 60000, first
    time.sleep(2.2)
    assert countdown_ms(b, NAME) < first, "the countdown does not move"
    left = b.css('li.card[data-name="%s"] .countdown' % NAME).text
    assert "min" in left, left
    # The expiry in the viewer's time zone.
    _, expiry, _ = db_sandbox(NAME)
    shown = b.css('li.card[data-name="%s"] dl.meta time' % NAME)
    assert plain(shown.text) == viewer_time(expiry), (shown.text, viewer_time(expiry))
    assert "soon" not in b.css('li.card[data-name="%s"] .countdown' % NAME).get_attribute("class")
    b.check_view("my-sandboxes")
    # The system's dark preference gives dark colours.
    light = b.js("return getComputedStyle(document.body).backgroundColor")
    b.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    try:
        dark = b.js("return getComputedStyle(document.body).backgroundColor")
        assert luminance(dark) < 0.1 < luminance(light), (light, dark)
        b.screenshot("my-sandboxes-dark")
    finally:
        b.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_refresh_keeps_layout_and_focus():
    """The automatic refresh updates cards in place: the same element,
    the same place, focus kept."""
    b = browser("alice")
    el = card(b, NAME)
    before = el.rect
    hist = el.find_element(By.CSS_SELECTOR, 'button[data-action="history"]')
    b.js("arguments[0].focus()", hist)
    b.js("window.__sbxCard = arguments[0]", el)
    time.sleep(31)      # one slow (30 s) refresh
    assert b.js("return document.contains(window.__sbxCard)"), "the card was rebuilt"
    assert card(b, NAME).rect == before, "the card moved on refresh"
    assert b.active() == hist, "focus was lost on refresh"


def test_extend_moves_the_countdown():
    b = browser("alice")
    _, expiry0, max0 = db_sandbox(NAME)
    before = countdown_ms(b, NAME)
    card(b, NAME).find_element(By.CSS_SELECTOR, 'button[data-action="extend"]').click()
    d = dialog(b)
    assert ("Extend %s" % NAME) in d.text
    b.check_view("extend-dialog")
    d.find_element(By.CSS_SELECTOR, 'button[data-extend="60"]').click()
    wait_dialog_closed(b)
    b.wait(lambda _: countdown_ms(b, NAME) > before + 55 * 60000, what="the countdown to grow by an hour")
    _, expiry1, _ = db_sandbox(NAME)
    assert expiry1 == expiry0 + 3600, (expiry0, expiry1)

    # A chosen time past max_expiry_time is refused in the page, nothing sent.
    card(b, NAME).find_element(By.CSS_SELECTOR, 'button[data-action="extend"]').click()
    d = dialog(b)
    box = d.find_element(By.CSS_SELECTOR, 'input[name="expiry_time"]')
    late = local_input(max0 + 3600)
    b.js("arguments[0].value = arguments[1]", box, late)
    d.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
    err = b.wait_css("#%s-error" % box.get_attribute("id"))
    assert "Not later than" in err.text, err.text
    assert box.get_attribute("aria-invalid") == "true"
    assert db_sandbox(NAME)[1] == expiry1, "a refused time was sent"
    # A chosen time within bounds is taken.
    want = expiry1 + 2 * 3600 - (expiry1 % 60)
    b.js("arguments[0].value = arguments[1]", box, local_input(want))
    d.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
    wait_dialog_closed(b)
    b.wait(lambda _: db_sandbox(NAME)[1] == want, what="the chosen expiry in the database")
    b.wait(lambda _: countdown_ms(b, NAME) > (want - time.time() - 120) * 1000,
           what="the countdown to show the chosen time")
    b.assert_console_clean("extend")


def test_extend_says_when_it_is_no_longer_possible():
    b = browser("alice")
    _, _, max0 = db_sandbox(NAME)
    when = datetime.datetime.fromtimestamp(max0, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    t.assert_json(s.api("PATCH", "/api/sandboxes/" + NAME, ALICE, {"expiry_time": when}), 200)
    card(b, NAME).find_element(By.CSS_SELECTOR, 'button[data-action="extend"]').click()
    d = dialog(b)
    b.wait(lambda _: d.find_elements(By.CSS_SELECTOR, "[data-no-extend]"), what="the no-extension notice")
    for btn in d.find_elements(By.CSS_SELECTOR, "button[data-extend], button[type=submit]"):
        assert not btn.is_enabled(), "%s is still enabled at the limit" % btn.text
    b.screenshot("extend-at-limit")
    b.keys(Keys.ESCAPE)
    wait_dialog_closed(b)
    b.assert_console_clean("extend at the limit")


def test_history_shows_the_events():
    b = browser("alice")
    card(b, NAME).find_element(By.CSS_SELECTOR, 'button[data-action="history"]').click()
    d = dialog(b)
    b.wait(lambda _: len(d.find_elements(By.CSS_SELECTOR, "li[data-action]")) >= 3, what="events")
    actions = [li.get_attribute("data-action") for li in d.find_elements(By.CSS_SELECTOR, "li[data-action]")]
    assert actions[0] == "created" and "active" in actions and "extended" in actions, actions
    b.check_view("history")
    b.keys(Keys.ESCAPE)
    wait_dialog_closed(b)


def test_server_validation_error_at_its_field():
    b = browser("alice")
    go(b, "#/new", 'input[name="name"]')
    name = b.css('input[name="name"]')
    name.send_keys("Bad_Name")
    b.css('button[type="submit"]').click()
    err = b.wait_css("#%s-error" % name.get_attribute("id"))
    assert err.text.startswith("name:") or "name" in err.text, err.text
    assert name.get_attribute("aria-invalid") == "true"
    assert b.active() == name, "focus is not on the field in error"
    b.check_view("validation-error", expect=[("/api/sandboxes", 400)])
    # The lifetime's own bound, from the server too.
    name.clear()
    name.send_keys(s.fresh_name("ttl"))
    ttl = b.css('input[name="ttl_minutes"]')
    ttl.clear()
    ttl.send_keys("100000")
    b.css('button[type="submit"]').click()
    err = b.wait_css("#%s-error" % ttl.get_attribute("id"))
    assert "ttl_minutes" in err.text or "minutes" in err.text, err.text
    assert b.all("#%s-error" % name.get_attribute("id"))[0].text == "", "the old error stayed"
    b.assert_console_clean("ttl error", expect=[("/api/sandboxes", 400)])


def test_countdown_under_five_minutes_is_highlighted():
    name = s.fresh_name("soon")
    s.create(ALICE, name, ttl_minutes=4)
    b = browser("alice")
    go(b, "#/", 'li.card[data-name="%s"]' % name)
    b.driver.refresh()
    c = card(b, name)
    cd = c.find_element(By.CSS_SELECTOR, ".countdown")
    b.wait(lambda _: "soon" in cd.get_attribute("class"), what="the highlight")
    assert "soon" in c.get_attribute("class")
    assert cd.get_attribute("title") == "Less than 5 minutes left"
    # The long one is not highlighted.
    assert "soon" not in card(b, NAME).find_element(By.CSS_SELECTOR, ".countdown").get_attribute("class")
    b.check_view("countdown-soon")
    s.cleanup(ALICE, name)


def test_a_user_does_not_see_another_users_sandbox():
    s.create(ALICE, OTHER, ttl_minutes=30)
    b = browser("bob")
    b.sign_in(BOB)
    # Bob's picture is from a host the policy does not allow: initials.
    assert not b.all("img.avatar"), "a picture from a host outside AVATAR_HOSTS was loaded"
    assert b.css(".avatar[data-initials]").text == "BP"
    b.wait_css(".empty")
    time.sleep(1)
    assert not b.all('li.card[data-name="%s"]' % OTHER)
    assert not b.all('li.card[data-name="%s"]' % NAME)
    assert not b.all('#nav a[data-route^="#/admin"]'), "admin navigation for a user"
    b.check_view("other-user")


def test_admin_sees_it_and_filters_by_owner():
    b = browser("admin")
    b.sign_in(ADMIN)
    go(b, "#/admin/sandboxes", "form.filters")
    card(b, OTHER)
    assert ALICE in card(b, OTHER).text, "owner not shown"
    b.check_view("admin-all-sandboxes")
    owner = b.css('input[name="owner"]')
    owner.send_keys(BOB)
    owner.send_keys(Keys.ENTER)
    b.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, 'li.card[data-name="%s"]' % OTHER),
           what="the filter to hide alice's sandbox")
    owner.clear()
    owner.send_keys(ALICE)
    owner.send_keys(Keys.ENTER)
    card(b, OTHER)
    owners = {c.find_element(By.CSS_SELECTOR, "dl.meta dd").text for c in b.all("li.card")}
    assert owners == {ALICE}, owners
    # And by status.
    b.js("const s = document.querySelector('select[name=status]');"
         "s.value = 'TERMINATED'; s.dispatchEvent(new Event('change'));")
    b.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, 'li.card[data-name="%s"]' % OTHER),
           what="the status filter")
    b.assert_console_clean("admin filters")


def test_admin_views():
    b = browser("admin")
    go(b, "#/admin/stuck", "main h1")
    b.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#view .empty, #view table"), what="stuck")
    b.check_view("admin-stuck")
    go(b, "#/admin/reaper", "main h1")
    b.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#view table, #view .empty"), what="reaper runs")
    b.check_view("admin-reaper")
    go(b, "#/admin/templates", 'tr[data-template="default"]')
    b.check_view("admin-templates")
    go(b, "#/admin/users", 'tr[data-email="%s"]' % ALICE)
    row = b.css('tr[data-email="%s"]' % ALICE)
    live = t.psql("SELECT live_sandboxes FROM users WHERE email = :'e'", e=ALICE)[0][0]
    assert ("Live sandboxes: %s" % live) in row.text.replace("\n", " ") or live in row.text, row.text
    b.check_view("admin-users")


def test_admin_adds_and_disables_a_template():
    b = browser("admin")
    name = "pg-%s" % s.fresh_name("t")[2:][:20]
    go(b, "#/admin/templates", 'form[aria-label="Add a template version"]')
    b.css('input[name="name"]').send_keys(name)
    b.css('input[name="description"]').send_keys("A page test template")
    body = ('{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},'
            ' "Parameters": {"Secret": {"Type": "String", "NoEcho": true}},'
            ' "Outputs": {"WebsiteURL": {"Value": {"Ref": "Topic"}},'
            ' "TopicName": {"Value": {"Ref": "Topic"}}}}')
    b.js("document.querySelector('textarea[name=body]').value = arguments[0]", body)
    b.css('form[aria-label="Add a template version"] button[type="submit"]').click()
    b.wait_css('tr[data-template="%s"]' % name)
    b.assert_console_clean("template added")
    # A user sees it, with its NoEcho parameter as a password field.
    a = browser("alice")
    go(a, "#/", "li.card")
    go(a, "#/new", 'select[name="template"]')
    a.js("const s = document.querySelector('select[name=template]');"
         "s.value = arguments[0]; s.dispatchEvent(new Event('change'));", name)
    secret = a.wait_css('input[name="parameters.Secret"]')
    assert secret.get_attribute("type") == "password"
    a.check_view("new-sandbox-noecho")
    # Created from it: the secret reaches the stack's parameters, a
    # URL-like output is a link, another output is text.
    sbx = s.fresh_name("url")
    a.css('input[name="name"]').send_keys(sbx)
    secret.send_keys("s3cret-value")
    a.css('form[aria-label="New sandbox"] button[type="submit"]').click()
    a.wait(lambda d: d.current_url.endswith("#/"), what="back to my sandboxes")
    a.wait(lambda _: card_status(a, sbx) == "ACTIVE", timeout=60, what="ACTIVE")
    url = a.css('li.card[data-name="%s"] .output[data-output="WebsiteURL"] a.v' % sbx)
    assert url.get_attribute("href").startswith("http://"), url.get_attribute("href")
    assert url.get_attribute("rel") == "noopener noreferrer"
    other = a.css('li.card[data-name="%s"] .output[data-output="TopicName"] .v' % sbx)
    assert other.tag_name == "span", other.tag_name
    stack = s.cfn_stacks(s.stack_name(sbx))[-1]
    assert stack["parameters"].get("Secret") == "s3cret-value", "the NoEcho value did not reach the stack"
    shown = t.psql("SELECT parameters FROM sandboxes WHERE name = :'n'", n=sbx)[0][0]
    assert "s3cret-value" not in shown, "the NoEcho value is kept readable"
    assert "s3cret-value" not in a.driver.page_source, "the secret stays in the page"
    a.check_view("my-sandboxes-url-output")
    s.cleanup(ALICE, sbx)
    # The admin disables it, after a confirmation naming it.
    b.css('tr[data-template="%s"] button[data-action="disable"]' % name).click()
    d = dialog(b)
    assert name in d.text
    d.find_element(By.CSS_SELECTOR, "button[data-confirm]").click()
    wait_dialog_closed(b)
    b.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, 'tr[data-template="%s"]' % name),
           what="the disabled template to go")
    assert t.psql("SELECT bool_or(enabled) FROM templates WHERE name = :'n'", n=name)[0][0] == "f"
    b.assert_console_clean("template disabled")


def test_admin_retries_and_forgets_a_stuck_sandbox():
    """Two sandboxes made stuck in the database as the reaper leaves them
    (attempts spent, flagged): one whose delete kept failing is retried,
    the other is forgotten with a reason."""
    names = [s.fresh_name("stuck"), s.fresh_name("stuck")]
    for n in names:
        s.create(ALICE, n, ttl_minutes=30)
        s.wait_status(ALICE, n, "ACTIVE")
    stick = ("UPDATE sandboxes SET stuck = true, attempts = 8, status_reason = "
             "'stuck after 8 attempts: page test' WHERE name = :'n' AND status <> 'TERMINATED'")
    t.psql("UPDATE sandboxes SET status = 'TERMINATING', pending_action = 'delete' "
           "WHERE name = :'n' AND status <> 'TERMINATED'", n=names[0])
    for n in names:
        t.psql(stick, n=n)
    b = browser("admin")
    go(b, "#/admin/stuck", 'tr[data-name="%s"]' % names[1])
    row = b.css('tr[data-name="%s"]' % names[0])
    assert "page test" in row.text and "8" in row.text, row.text
    b.check_view("admin-stuck-two")
    row.find_element(By.CSS_SELECTOR, 'button[data-action="retry"]').click()
    b.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, 'tr[data-name="%s"]' % names[0]),
           what="the retried sandbox to leave the list")
    assert t.psql("SELECT stuck, attempts FROM sandboxes WHERE name = :'n' ORDER BY created_at DESC LIMIT 1",
                  n=names[0])[0] == ["f", "0"]
    # The operator cleaned the other up by hand: forget it, saying why.
    b.css('tr[data-name="%s"] button[data-action="forget"]' % names[1]).click()
    d = dialog(b)
    d.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
    box = d.find_element(By.CSS_SELECTOR, 'textarea[name="reason"]')
    err = b.wait_css("#%s-error" % box.get_attribute("id"))
    assert "reason" in err.text, err.text
    box.send_keys("stack removed by hand, page test")
    d.find_element(By.CSS_SELECTOR, 'button[type="submit"]').click()
    wait_dialog_closed(b)
    b.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, 'tr[data-name="%s"]' % names[1]),
           what="the forgotten sandbox to leave the list")
    status, _, _ = db_sandbox(names[1])
    assert status == "TERMINATED", status
    b.assert_console_clean("forget", expect=[("/api/sandboxes/%s/forget" % names[1], 400)])
    s.wait_status(ALICE, names[0], "TERMINATED", timeout=60)


def test_api_tokens_create_use_revoke():
    b = browser("alice")
    go(b, "#/tokens", 'input[name="name"]')
    b.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#view .empty, #view table"), what="the token list")
    b.css('input[name="name"]').send_keys("page test")
    b.css('form[aria-label="New API token"] button[type="submit"]').click()
    code = b.wait_css("code[data-secret]")
    secret = code.text
    assert secret.startswith("sbx_pat_"), "the token is not shown"
    copy = b.css(".secret button.copy")
    assert b.active() == copy, "focus is not on the copy button"
    copy.click()
    b.wait(lambda d: copy.text == "Copied", what="Copied")
    assert b.js("return navigator.clipboard.readText()") == secret
    row = b.wait_css("tr[data-token-id]")
    token_id = row.get_attribute("data-token-id")
    b.check_view("tokens-created")
    # Used through the API, it is alice.
    r = t.get("/api/me", headers={"Authorization": "Bearer " + secret})
    assert t.assert_json(r, 200)["email"] == ALICE
    # Revoked from the page (after a confirmation), it is refused at once.
    b.css('tr[data-token-id="%s"] button[data-action="revoke"]' % token_id).click()
    d = dialog(b)
    assert "page test" in d.text
    d.find_element(By.CSS_SELECTOR, "button[data-confirm]").click()
    wait_dialog_closed(b)
    b.wait(lambda d: "Revoked" in d.find_element(
        By.CSS_SELECTOR, 'tr[data-token-id="%s"]' % token_id).text, what="Revoked")
    r = t.get("/api/me", headers={"Authorization": "Bearer " + secret})
    t.assert_problem(r, 401)
    assert t.psql("SELECT revoked_at IS NOT NULL FROM api_tokens WHERE id = :'i'",
                  i=token_id)[0][0] == "t"
    b.check_view("tokens-revoked")


def test_delete_after_confirmation_then_terminated():
    b = browser("alice")
    go(b, "#/", 'li.card[data-name="%s"]' % NAME)
    card(b, NAME).find_element(By.CSS_SELECTOR, 'button[data-action="delete"]').click()
    d = dialog(b)
    assert ("Delete %s?" % NAME) in d.text, d.text
    # The safe choice has the focus; Escape keeps the sandbox.
    assert b.active().text == "Keep it"
    b.check_view("delete-dialog")
    d.find_element(By.CSS_SELECTOR, "button[data-confirm]").click()
    wait_dialog_closed(b)
    b.wait(lambda _: card_status(b, NAME) in ("TERMINATING", "TERMINATED"), what="TERMINATING")
    b.wait(lambda _: card_status(b, NAME) == "TERMINATED", timeout=60, what="TERMINATED")
    assert db_sandbox(NAME)[0] == "TERMINATED"
    c = card(b, NAME)
    assert not c.find_elements(By.CSS_SELECTOR, 'button[data-action="extend"]')
    assert not c.find_elements(By.CSS_SELECTOR, 'button[data-action="delete"]')
    b.check_view("my-sandboxes-terminated")


def test_expired_session_goes_back_to_sign_in():
    b = browser("bob")
    t.psql("UPDATE sessions SET revoked_at = now() WHERE revoked_at IS NULL AND user_id = "
           "(SELECT id FROM users WHERE email = :'e')", e=BOB)
    go(b, "#/tokens", "#signin-message")
    msg = b.wait_css("#signin-message")
    assert "session has ended" in msg.text, msg.text
    assert b.css("#signin").is_displayed()
    assert not b.all("#signout")
    b.check_view("session-expired", expect=[("/api/tokens", 401)])
    # Opened again later, with the cookies of the ended session: the same.
    b.open("/")
    msg = b.wait_css("#signin-message")
    assert "session has ended" in msg.text, msg.text
    b.assert_console_clean("session-expired (reload)", expect=[("/api/me", 401)])


def test_admin_disables_and_enables_a_user():
    b = browser("admin")
    go(b, "#/admin/users", 'tr[data-email="%s"]' % BOB)
    assert not b.all('tr[data-email="%s"] button' % ADMIN), "an admin can disable themself"
    b.css('tr[data-email="%s"] button[data-action="disable"]' % BOB).click()
    b.wait_css('tr[data-email="%s"] button[data-action="enable"]' % BOB)
    assert "Disabled" in b.css('tr[data-email="%s"]' % BOB).text
    assert t.psql("SELECT disabled_at IS NOT NULL FROM users WHERE email = :'e'", e=BOB)[0][0] == "t"
    t.assert_problem(s.api("GET", "/api/me", BOB), 403)
    b.check_view("admin-users-disabled")
    b.css('tr[data-email="%s"] button[data-action="enable"]' % BOB).click()
    b.wait_css('tr[data-email="%s"] button[data-action="disable"]' % BOB)
    assert t.psql("SELECT disabled_at IS NULL FROM users WHERE email = :'e'", e=BOB)[0][0] == "t"
    t.assert_json(s.api("GET", "/api/me", BOB), 200)
    b.assert_console_clean("users")


def test_sign_out():
    b = browser("alice")
    b.open("/#/")
    b.wait_css("#signout").click()
    msg = b.wait_css("#signin-message")
    assert "signed out" in msg.text
    assert t.psql("SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id "
                  "WHERE u.email = :'e' AND s.revoked_at IS NULL AND s.expires_at > now()",
                  e=ALICE)[0][0] == "0", "the session is still live"
    cookies = {c["name"] for c in b.driver.get_cookies()}
    assert af.SESSION_COOKIE not in cookies and af.CSRF_COOKIE not in cookies, cookies
    b.open("/")
    b.wait_css("#signin")
    assert not b.all("#signout")
    b.check_view("signed-out-again")


def test_zz_clean_up():
    s.cleanup(ALICE, OTHER, NAME)
    for b in list(B.values()):
        b.quit()
    B.clear()


if __name__ == "__main__":
    try:
        t.run()
    finally:
        for br in B.values():
            br.quit()
