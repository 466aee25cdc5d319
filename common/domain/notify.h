/*
 * Outgoing webhooks: every sandbox event in the outbox (the
 * sandbox_events table, see sandbox.h) is POSTed as JSON to
 * NOTIFY_WEBHOOK_URL, signed with NOTIFY_WEBHOOK_SECRET.
 *
 * A delivery is
 *
 *   POST <NOTIFY_WEBHOOK_URL>
 *   Content-Type: application/json
 *   X-Sbx-Event: sandbox.terminated
 *   X-Sbx-Delivery: <event id>
 *   X-Sbx-Timestamp: <seconds since the epoch>
 *   X-Sbx-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">
 *
 *   {"id": "<event id>", "type": "sandbox.terminated", "time": "<RFC 3339>",
 *    "actor": "...", "detail": "...", "sandbox": {...}}
 *
 * where "sandbox" is the sandbox as the API shows it at the time of
 * sending. Types: sandbox.created, .active, .failed, .expiring,
 * .extended, .terminating, .terminated, .stuck, .budget_terminated, and
 * user.budget_warning (which also carries "user": {"email"}); other events (an
 * operator's "retry") are not sent and are marked skipped.
 *
 * Delivery is at least once: an event is claimed, sent, and marked
 * delivered only after a 2xx answer, so a sender killed in between sends
 * it again later (receivers drop duplicates by id). Any other answer, or
 * none, reschedules the event with exponential backoff (base
 * REAPER_BACKOFF_SECONDS, capped at an hour), forever: a receiver that is
 * down delays delivery, it never loses an event.
 *
 * The pure parts (signature, type, body) are in notify.c; the delivery
 * loop over the outbox in notify_send.c.
 */
#ifndef SBX_NOTIFY_H
#define SBX_NOTIFY_H

#include <signal.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "common/core/err.h"
#include "common/domain/sandbox.h"

/* "sha256=" + 64 hex digits + NUL. */
#define SBX_NOTIFY_SIGNATURE_LEN 72

/*
 * The X-Sbx-Signature value for a body sent at timestamp (the
 * X-Sbx-Timestamp value, as text): "sha256=" and the lower-case hex
 * HMAC-SHA256 of "<timestamp>.<body>" keyed with secret. out holds at
 * least SBX_NOTIFY_SIGNATURE_LEN bytes.
 */
enum sbx_err sbx_notify_signature(const char *secret, const char *timestamp,
    const char *body, size_t body_len, char *out, size_t out_len);

/*
 * The webhook type of an event action ("active" -> "sandbox.active");
 * NULL for actions that are not sent.
 */
const char *sbx_notify_event_type(const char *action);

/*
 * The body of a delivery (see above): caller cJSON_Delete()s; NULL on
 * ENOMEM or when the event has no webhook type. sb may be NULL (the
 * sandbox row is gone): "sandbox" is then {"id": ...} only.
 */
cJSON *sbx_notify_body(const struct sbx_sandbox_event *ev,
    const struct sbx_sandbox *sb);

/* Seconds before delivery attempt attempts + 1 (capped at one hour). */
long sbx_notify_backoff_seconds(long base, long attempts);

/* What one pass over the outbox did. */
struct sbx_notify_counts {
	long delivered;
	long failed;		/* rescheduled */
	long skipped;		/* no webhook type, or no URL and too old */
	long lost;		/* claimed by another sender */
	long pending;		/* seen due but not tried (dry run, stop) */
};

/*
 * Delivers the due events of the outbox, oldest first, in batches of
 * batch, at most max_events in all. The first failed delivery ends the
 * pass (the receiver is likely down: one attempt per run is enough to
 * know). With no NOTIFY_WEBHOOK_URL nothing is sent, and pending events
 * older than a day are marked skipped so the outbox does not grow
 * forever. dry_run sends nothing and changes nothing. *stop, when it
 * becomes non-zero (a signal), ends the pass early. Returns SBX_OK, or
 * the database's error.
 */
enum sbx_err sbx_notify_deliver(long long now, long batch, long max_events,
    int dry_run, const volatile sig_atomic_t *stop,
    struct sbx_notify_counts *counts);

#endif
