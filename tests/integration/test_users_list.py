"""GET /api/users (sbx-auth, admin only): every user with email, name,
role, disabled, last_login_at and live_sandboxes, as the database has
them; the page's admin "Users" view reads it."""

import sbxtest as t
import sbxsandbox as s
import authflow as af

ADMIN = "admin@example.com"
FIELDS = {"email", "name", "role", "disabled", "last_login_at", "live_sandboxes"}


def users():
    r = s.api("GET", "/api/users", ADMIN)
    body = t.assert_json(r, 200)
    assert isinstance(body, list), body
    return {u["email"]: u for u in body}


def test_admin_lists_users_as_the_database_has_them():
    email = s.fresh_email("ulist")
    af.sign_in(email)                        # a browser-style sign-in: last_login_at
    name = s.fresh_name("ul")
    s.create(email, name, ttl_minutes=30)
    listed = users()
    assert email in listed, "a signed-in user is not listed"
    u = listed[email]
    assert set(u) == FIELDS, "fields: %r" % sorted(u)
    row = t.psql("SELECT name, disabled_at IS NOT NULL, "
                 "to_char(last_login_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
                 "live_sandboxes FROM users WHERE email = :'e'", e=email)[0]
    assert u["name"] == row[0], (u["name"], row[0])
    assert u["disabled"] is (row[1] == "t")
    assert u["last_login_at"] == row[2], (u["last_login_at"], row[2])
    assert u["live_sandboxes"] == int(row[3]) == 1, (u["live_sandboxes"], row[3])
    assert u["role"] == "user"
    assert listed[ADMIN]["role"] == "admin"
    # Sorted by email.
    emails = list(listed)
    assert emails == sorted(emails), "not sorted by email"
    s.cleanup(email, name)


def test_disabled_shows_and_enable_clears_it():
    email = s.fresh_email("udis")
    af.sign_in(email)
    r = s.api("POST", "/api/users/%s/disable" % email, ADMIN)
    t.assert_json(r, 200)
    assert users()[email]["disabled"] is True
    r = s.api("POST", "/api/users/%s/enable" % email, ADMIN)
    t.assert_json(r, 200)
    assert users()[email]["disabled"] is False


def test_only_admins():
    r = s.api("GET", "/api/users", s.fresh_email("unot"))
    t.assert_problem(r, 403)
    r = t.get("/api/users")
    t.assert_problem(r, 401)
    r = s.api("POST", "/api/users", ADMIN, {})
    t.assert_problem(r, 405)


if __name__ == "__main__":
    t.run()
