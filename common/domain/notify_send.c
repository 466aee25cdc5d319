/*
 * Webhook delivery from the event outbox (see notify.h): claim a due
 * event, send it signed, mark it delivered on a 2xx answer or reschedule
 * it with backoff otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/core/config.h"
#include "common/io/httpclient.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/domain/notify.h"
#include "common/domain/sandbox.h"

#define MODULE "notify"

/* With no webhook configured, pending events older than this are skipped. */
#define UNSENT_MAX_AGE_SECONDS 86400

/* Sends one event; SBX_OK on a 2xx answer. */
static enum sbx_err
send_one(const struct sbx_sandbox_event *ev, const char *url,
    const char *secret)
{
	struct sbx_sandbox *sb = NULL;
	struct sbx_httpclient_request rq;
	struct sbx_httpclient_response rs;
	struct sbx_httpclient_header h[6];
	char ts[32], sig[SBX_NOTIFY_SIGNATURE_LEN];
	char *text = NULL;
	cJSON *body = NULL;
	enum sbx_err err;

	memset(&rq, 0, sizeof(rq));
	memset(&rs, 0, sizeof(rs));
	err = sbx_sandbox_get(ev->sandbox_id, &sb);
	if (err != SBX_OK && err != SBX_ENOTFOUND)
		goto out;
	body = sbx_notify_body(ev, sb);
	text = body != NULL ? sbx_json_print(body) : NULL;
	if (text == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
	err = sbx_notify_signature(secret, ts, text, strlen(text), sig,
	    sizeof(sig));
	if (err != SBX_OK)
		goto out;
	h[0].name = "Content-Type";
	h[0].value = "application/json";
	h[1].name = "User-Agent";
	h[1].value = "sbx-notify/1";
	h[2].name = "X-Sbx-Event";
	h[2].value = sbx_notify_event_type(ev->action);
	h[3].name = "X-Sbx-Delivery";
	h[3].value = ev->id;
	h[4].name = "X-Sbx-Timestamp";
	h[4].value = ts;
	h[5].name = "X-Sbx-Signature";
	h[5].value = sig;
	rq.method = "POST";
	rq.url = url;
	rq.headers = h;
	rq.nheaders = 6;
	rq.body = text;
	rq.body_len = strlen(text);
	err = sbx_httpclient_send(&rq, &rs);
	if (err != SBX_OK) {
		sbx_log(SBX_LOG_WARN, MODULE, "event %s (%s): no answer from "
		    "the webhook receiver: %s", ev->id, h[2].value,
		    sbx_strerror(err));
		goto out;
	}
	if (rs.status < 200 || rs.status > 299) {
		sbx_log(SBX_LOG_WARN, MODULE, "event %s (%s): the webhook "
		    "receiver answered %ld", ev->id, h[2].value, rs.status);
		err = SBX_EREMOTE;
		goto out;
	}
	sbx_log(SBX_LOG_DEBUG, MODULE, "event %s (%s) delivered", ev->id,
	    h[2].value);
out:
	sbx_httpclient_response_fini(&rs);
	free(text);
	cJSON_Delete(body);
	sbx_sandbox_free(sb);
	return err;
}

/* No URL: nothing is sent; keep the outbox from growing forever. */
static enum sbx_err
skip_old(long long now, long batch, long max_events, int dry_run,
    struct sbx_notify_counts *c)
{
	long n = 0, total = 0;
	enum sbx_err err = SBX_OK;

	if (dry_run)
		return SBX_OK;
	do {
		err = sbx_sandbox_outbox_skip_older(now - UNSENT_MAX_AGE_SECONDS,
		    batch, &n);
		total += n;
	} while (err == SBX_OK && n >= batch && total < max_events);
	c->skipped += total;
	return err;
}

enum sbx_err
sbx_notify_deliver(long long now, long batch, long max_events, int dry_run,
    const volatile sig_atomic_t *stop, struct sbx_notify_counts *c)
{
	const struct sbx_config *cfg = sbx_config();
	struct sbx_sandbox_event_list list = { NULL, 0 };
	long total = 0;
	long base = cfg->reaper_backoff_seconds;
	size_t i;
	enum sbx_err err = SBX_OK;

	if (batch < 1)
		batch = 100;
	if (cfg->notify_webhook_url == NULL ||
	    cfg->notify_webhook_secret == NULL)
		return skip_old(now, batch, max_events, dry_run, c);

	while (total < max_events) {
		long progressed = 0;

		sbx_sandbox_event_list_fini(&list);
		/*
		 * Whole seconds: an event written a fraction into this
		 * second is due too (its next_delivery_at is its time).
		 */
		err = sbx_sandbox_outbox_pending(now + 1, dry_run ?
		    max_events : batch, &list);
		if (err != SBX_OK || list.n == 0)
			break;
		for (i = 0; i < list.n; i++) {
			const struct sbx_sandbox_event *ev = &list.items[i];

			if ((stop != NULL && *stop) || total >= max_events)
				goto out;
			if (dry_run) {
				c->pending++;
				continue;
			}
			if (sbx_notify_event_type(ev->action) == NULL) {
				err = sbx_sandbox_outbox_skipped(ev->id);
				if (err != SBX_OK)
					goto out;
				c->skipped++;
				progressed++;
				continue;
			}
			err = sbx_sandbox_outbox_claim(ev->id,
			    sbx_sandbox_lease_seconds());
			if (err == SBX_ECONFLICT) {
				c->lost++;
				err = SBX_OK;
				continue;
			}
			if (err != SBX_OK)
				goto out;
			progressed++;
			total++;
			if (send_one(ev, cfg->notify_webhook_url,
			    cfg->notify_webhook_secret) == SBX_OK) {
				err = sbx_sandbox_outbox_delivered(ev->id);
				if (err != SBX_OK)
					goto out;
				c->delivered++;
				continue;
			}
			/*
			 * Rescheduled, and the pass ends: the receiver is
			 * likely down, and every other event would only wait
			 * a timeout to learn the same.
			 */
			err = sbx_sandbox_outbox_failed(ev->id,
			    (long long)time(NULL) + sbx_notify_backoff_seconds(
			    base, ev->delivery_attempts + 1));
			c->failed++;
			goto out;
		}
		if (dry_run || progressed == 0)
			break;
		now = (long long)time(NULL);
	}
out:
	sbx_sandbox_event_list_fini(&list);
	return err;
}
