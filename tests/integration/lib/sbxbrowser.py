"""A real browser for the page's tests: Debian's headless Chromium driven
by python3-selenium through Debian's chromedriver.

Chromium runs as root here, so without its sandbox (--no-sandbox), with a
fresh profile in a temporary directory, and with everything that would
reach the (closed) network turned off. The stack's certificate is
self-signed: --ignore-certificate-errors.

Every page is checked the same way (check_view): no console errors, no
Content-Security-Policy violation (both reach the browser's console log,
which chromedriver hands over), no horizontal scrolling at 360 px, and a
screenshot under $SBX_STATE_DIR/screenshots/.

Never print a token: messages go through sbxtest.redact().
"""

import os
import shutil
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException, StaleElementReferenceException, TimeoutException,
    WebDriverException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.support.ui import WebDriverWait

import sbxtest as t

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WIDE = (1280, 900)
TIMEZONE = "Asia/Kolkata"           # UTC+05:30, no daylight saving
NARROW = (360, 780)

__all__ = ["Browser", "By", "Keys"]


def base_url():
    return "https://localhost:%s" % t.setting("HTTPS_PORT")


def screenshot_dir():
    d = os.path.join(t.setting("SBX_STATE_DIR"), "screenshots")
    os.makedirs(d, exist_ok=True)
    return d


class Browser:
    """One Chromium with its own profile (so its own cookies: one user)."""

    def __init__(self, label="browser"):
        self.label = label
        self.profile = tempfile.mkdtemp(prefix="sbx-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                    "--ignore-certificate-errors",
                    "--user-data-dir=" + self.profile,
                    "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--disable-default-apps",
                    "--disable-extensions", "--disable-dev-shm-usage",
                    "--password-store=basic", "--lang=en-US",
                    "--window-size=%d,%d" % WIDE):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(CHROMEDRIVER, log_output=os.devnull) \
            if "log_output" in Service.__init__.__code__.co_varnames \
            else Service(CHROMEDRIVER, log_path=os.devnull)
        try:
            self.driver = webdriver.Chrome(service=service, options=opts)
        except WebDriverException:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        # The copy buttons write to the clipboard; the tests read it back.
        self.driver.execute_cdp_cmd("Browser.grantPermissions", {
            "origin": base_url(),
            "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
        # A time zone far from the machine's UTC: times on the page must
        # be the viewer's.
        self.driver.execute_cdp_cmd("Emulation.setTimezoneOverride",
                                    {"timezoneId": TIMEZONE})
        self.driver.set_page_load_timeout(60)
        self.driver.set_script_timeout(30)
        self.width = WIDE[0]
        self.console = []          # every console entry seen so far
        self._pending = []         # read from the browser, not yet checked

    def quit(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    # ------------------------------------------------------------ basics

    def open(self, path="/"):
        self.driver.get(base_url() + path)

    def wait(self, predicate, timeout=30, what="a condition"):
        """Waits until predicate(driver) is truthy; returns its value."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.2,
                                 ignored_exceptions=(
                                     NoSuchElementException,
                                     StaleElementReferenceException)).until(
                predicate)
        except TimeoutException:
            self.screenshot("timeout-" + what.replace(" ", "-")[:40])
            raise AssertionError("%s: timed out waiting for %s (url %s)" % (
                self.label, what, self.driver.current_url.split("?")[0]))

    def css(self, selector):
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector):
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def wait_css(self, selector, timeout=30, visible=True):
        def found(d):
            for el in d.find_elements(By.CSS_SELECTOR, selector):
                if not visible or el.is_displayed():
                    return el
            return None
        return self.wait(found, timeout, "element %s" % selector)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def active(self):
        return self.driver.switch_to.active_element

    def keys(self, *keys):
        ActionChains(self.driver).send_keys(*keys).perform()

    def tab_to(self, matches, limit=60, what="an element"):
        """Presses Tab until the focused element satisfies matches(el)
        (a keyboard user's way there); fails after limit presses. Checks
        the focus is visible on the element it stops at."""
        for _ in range(limit):
            self.keys(Keys.TAB)
            el = self.active()
            try:
                if matches(el):
                    self.assert_focus_visible(el, what)
                    return el
            except StaleElementReferenceException:
                continue
        raise AssertionError("%s: Tab never reached %s" % (self.label, what))

    def assert_focus_visible(self, el, what):
        style = self.js(
            "const s = getComputedStyle(arguments[0]);"
            "return [s.outlineStyle, s.outlineWidth, s.boxShadow];", el)
        visible = (style[0] != "none" and style[1] not in ("0px", "")) or \
            (style[2] not in ("none", ""))
        assert visible, "%s: focus on %s is not visible (outline %s %s)" % (
            self.label, what, style[0], style[1])

    # ------------------------------------------------------------ sizes

    def set_width(self, size):
        """Emulates a viewport of size (w, h), as a phone would for 360."""
        w, hgt = size
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": w, "height": hgt, "deviceScaleFactor": 1,
            "mobile": w < 600})
        self.width = w

    def assert_no_horizontal_scroll(self, view):
        sizes = self.js(
            "const d = document.documentElement;"
            "return [d.scrollWidth, d.clientWidth, window.innerWidth,"
            " document.body.scrollWidth];")
        assert sizes[0] <= sizes[1] and sizes[3] <= sizes[1], \
            "%s: %s scrolls sideways at %d px (scrollWidth %d, clientWidth %d)" % (
                self.label, view, self.width, sizes[0], sizes[1])
        # Nothing sticks out of the viewport on its own (overflow hidden by
        # a parent would not show in scrollWidth).
        wide = self.js(
            "const w = document.documentElement.clientWidth; const out = [];"
            "for (const el of document.querySelectorAll('main *, header *, nav *')) {"
            "  const r = el.getBoundingClientRect();"
            "  if (r.width && (r.right > w + 1 || r.left < -1) && getComputedStyle(el).position !== 'fixed'"
            "      && !el.closest('.skip')) out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.right));"
            "} return out.slice(0, 5);")
        assert not wide, "%s: %s: elements wider than %d px: %s" % (
            self.label, view, self.width, wide)

    # ------------------------------------------------------------ console

    def take_console(self):
        """The console entries since the last call."""
        entries = self._pending + self.driver.get_log("browser")
        self._pending = []
        self.console.extend(entries)
        return entries

    def assert_console_clean(self, view, expect=()):
        """No console error and no CSP violation since the last check.
        expect: (path, status) pairs of failed requests the step caused on
        purpose (Chromium logs every 4xx answer to a fetch as an error);
        each must appear, and nothing else."""
        bad = []
        seen = set()
        for e in self.take_console():
            msg = e.get("message", "")
            hit = None
            for path, status in expect:
                if (base_url() + path) in msg and \
                        "status of %d" % status in msg:
                    hit = (path, status)
            if hit and "Content Security Policy" not in msg:
                seen.add(hit)
                continue
            if e.get("level") == "SEVERE" or "Content Security Policy" in msg \
                    or "Refused to" in msg:
                bad.append("%s %s" % (e.get("level"), t.redact(msg)[:300]))
        missing = [x for x in expect if x not in seen]
        assert not missing, "%s: %s: expected failed requests not seen: %s" % (
            self.label, view, missing)
        assert not bad, "%s: %s: console errors or CSP violations:\n  %s" % (
            self.label, view, "\n  ".join(bad))

    def assert_controls_labelled(self, view):
        """Every visible control has a name a screen reader can say: a
        <label>, aria-label(ledby), or (buttons, links) its text."""
        bare = self.js(
            "const out = [];"
            "for (const el of document.querySelectorAll('input, select, textarea, button, a[href]')) {"
            "  if (!el.getClientRects().length || el.type === 'hidden') continue;"
            "  const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')"
            "    || el.getAttribute('aria-labelledby')"
            "    || ((el.tagName === 'BUTTON' || el.tagName === 'A') && el.textContent.trim());"
            "  if (!named) out.push(el.outerHTML.slice(0, 120));"
            "} return out;")
        assert not bare, "%s: %s: controls without a label: %s" % (self.label, view, bare)

    def screenshot(self, name):
        path = os.path.join(screenshot_dir(), "%s-%s.png" % (self.label, name))
        try:
            self.driver.save_screenshot(path)
        except WebDriverException:
            return None
        return path

    def check_view(self, name, expect=()):
        """The checks every view gets: a screenshot wide, no console error
        or CSP violation, then the same view at 360 px: no horizontal
        scrolling, a screenshot, and back to wide."""
        self.assert_console_clean(name, expect)
        self.assert_controls_labelled(name)
        self.screenshot(name)
        self.set_width(NARROW)
        time.sleep(0.3)
        try:
            self.assert_no_horizontal_scroll(name)
            self.screenshot(name + "-360")
        finally:
            self.set_width(WIDE)
        self.assert_console_clean(name + " (360 px)")

    # ------------------------------------------------------------ sign-in

    def sign_in(self, email):
        """Signs in as a person would: the page's button, the local IdP's
        form (typing the email), back to the page."""
        self.open("/")
        button = self.wait_css("#signin")
        assert button.get_attribute("href").endswith("/auth/login?next=/"), \
            "the sign-in button goes to %s" % button.get_attribute("href")
        button.click()
        box = self.wait_css("input[name=email]")
        box.clear()
        box.send_keys(email)
        # Its "Continue" button: Enter would submit with the form's first
        # button, one of the listed known users.
        self.css("form button[type=submit]").click()
        self.wait(lambda d: d.current_url.startswith(base_url()) and
                  d.find_elements(By.CSS_SELECTOR, "#signout"),
                  what="the signed-in page")
        url = self.driver.current_url
        assert url.split("#")[0] == base_url() + "/", \
            "after sign-in the browser is at %s, not /" % url.split("?")[0]
        who = self.wait_css(".who .email")
        assert who.text == email, "the header shows %r, not %s" % (who.text, email)
        # The local IdP's own page is not ours to judge: drop its entries.
        idp = t.setting("FAKE_IDP_URL")
        self.console = [e for e in self.console if idp not in e.get("message", "")]
        kept = [e for e in self.driver.get_log("browser")
                if idp not in e.get("message", "")]
        self._pending = kept
