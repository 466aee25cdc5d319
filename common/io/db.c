/*
 * The database module (see db.h): the process's one libpq connection, the
 * statement runner that maps SQLSTATEs onto enum sbx_err, and the
 * transaction helper that re-runs a whole transaction on 40001.
 *
 * A responder must never hang or die because the database is gone, so:
 * connecting is bounded by connect_timeout; TCP keepalives and
 * tcp_user_timeout notice a peer that vanished; every statement is sent
 * asynchronously and waited for with poll() under a deadline, after which
 * the connection is abandoned; and a connection that failed at the
 * connection level is marked broken and replaced on the next call.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/io/aws.h"
#include "common/core/config.h"
#include "common/io/db.h"
#include "common/core/log.h"

#define MODULE "db"

/*
 * How long one statement may take, client side, before the connection is
 * given up as hung (a stopped server still ACKs TCP, so neither keepalives
 * nor tcp_user_timeout would notice it). Our statements are short; DSQL
 * caps a whole transaction at 300 s anyway. Not a setting: it is a guard
 * against a wedged peer, not a tuning knob.
 */
#define DB_STATEMENT_DEADLINE_MS	(30 * 1000)

/* Upper bound of one backoff sleep between transaction attempts. */
#define DB_BACKOFF_CAP_MS		2000L

/* Statements prepared per connection; past this they run unprepared. */
#define DB_MAX_PREPARED			128

struct db_prepared {
	char *name;
	char *sql;	/* to catch one name used for two statements */
};

/*
 * The process's connection and what we know about it. A worker serves one
 * request at a time, so one static struct is the whole state.
 */
static struct {
	PGconn *conn;
	struct timespec opened;		/* CLOCK_MONOTONIC */
	int broken;			/* failed: replace at next acquire */
	int in_tx;			/* inside sbx_db_tx's fn */
	enum sbx_err tx_err;		/* first failure inside the transaction */
	struct db_prepared prepared[DB_MAX_PREPARED];
	size_t nprepared;
	int warned_full;
} db;

/* ------------------------------------------------------------ pure helpers */

/*
 * Maps a SQLSTATE (NULL when the failure was detected client side) onto
 * our codes. Class 08 is a connection exception; 57P01-57P03 are the
 * server shutting down or not accepting connections yet. 40P01 (deadlock)
 * is a transaction rollback like 40001 and is cured the same way, by
 * running the transaction again.
 */
enum sbx_err
sbx_db_sqlstate_err(const char *sqlstate)
{
	if (sqlstate == NULL)
		return SBX_EDB;
	if (strncmp(sqlstate, "08", 2) == 0 ||
	    strcmp(sqlstate, "57P01") == 0 ||
	    strcmp(sqlstate, "57P02") == 0 ||
	    strcmp(sqlstate, "57P03") == 0)
		return SBX_EUNAVAILABLE;
	if (strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0)
		return SBX_ESERIALIZE;
	if (strcmp(sqlstate, "23505") == 0)
		return SBX_ECONFLICT;
	return SBX_EDB;
}

/*
 * The sleep before attempt number `attempt + 1` (attempt >= 1 failed):
 * "full jitter" (a uniform pick in [0, base * 2^(attempt-1)]), the ceiling
 * capped at DB_BACKOFF_CAP_MS unless base itself is larger. rnd is a
 * random number supplied by the caller so this stays testable.
 */
long
sbx_db_backoff_ms(long base, int attempt, unsigned long rnd)
{
	long cap = base > DB_BACKOFF_CAP_MS ? base : DB_BACKOFF_CAP_MS;
	long ceil = base;
	int i;

	if (base <= 0)
		return 0;
	for (i = 1; i < attempt && ceil < cap; i++)
		ceil *= 2;
	if (ceil > cap)
		ceil = cap;
	return (long)(rnd % ((unsigned long)ceil + 1));
}

/*
 * True when sql is a plain SELECT (after leading blanks): such a statement
 * changes nothing, so it is safe to send again after the connection died
 * under it.
 */
int
sbx_db_sql_is_select(const char *sql)
{
	while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r')
		sql++;
	if (strncasecmp(sql, "SELECT", 6) != 0)
		return 0;
	sql += 6;
	return !(*sql == '_' || (*sql >= 'a' && *sql <= 'z') ||
	    (*sql >= 'A' && *sql <= 'Z') || (*sql >= '0' && *sql <= '9'));
}

/* ------------------------------------------------------------ logging */

/* Copies libpq's message onto one line, blanks squeezed. */
void
sbx_db_msg(char *buf, size_t len, const char *msg)
{
	size_t n = 0;
	int blank = 0;

	if (len == 0)
		return;
	for (; msg != NULL && *msg != '\0' && n + 1 < len; msg++) {
		if (*msg == '\n' || *msg == '\r' || *msg == '\t' ||
		    *msg == ' ') {
			blank = n > 0;
			continue;
		}
		if (blank && n + 2 < len)
			buf[n++] = ' ';
		blank = 0;
		buf[n++] = *msg;
	}
	buf[n] = '\0';
}

/*
 * Server notices (e.g. "relation already exists, skipping" from the
 * migrations, or the FATAL a server sends before it closes an idle
 * connection) go to our log instead of libpq's default of raw stderr.
 */
static void
db_notice(void *arg, const PGresult *res)
{
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	char msg[512];
	cJSON *f;
	enum sbx_log_level lvl = SBX_LOG_DEBUG;

	(void)arg;
	if (sev != NULL && (strcmp(sev, "WARNING") == 0 ||
	    strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
		lvl = SBX_LOG_WARN;
	/* A FATAL outside a request means the server is closing us. */
	if (sev != NULL && (strcmp(sev, "FATAL") == 0 ||
	    strcmp(sev, "PANIC") == 0))
		db.broken = 1;
	sbx_db_msg(msg, sizeof msg,
	    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
	f = cJSON_CreateObject();
	if (f != NULL) {
		if (state != NULL)
			cJSON_AddStringToObject(f, "sqlstate", state);
		if (sev != NULL)
			cJSON_AddStringToObject(f, "severity", sev);
	}
	sbx_log_fields(lvl, MODULE, msg, f);
}

/*
 * Logs a failed statement: its SQLSTATE, the server's primary message and
 * the statement's name. Never the parameters (they may carry user data)
 * and never the SQL text (constant, and long).
 */
static void
db_log_failure(enum sbx_err err, const char *name, const char *sqlstate,
    const char *message)
{
	char msg[512];
	cJSON *f;
	enum sbx_log_level lvl;

	switch (err) {
	case SBX_ESERIALIZE:
	case SBX_ECONFLICT:
		lvl = SBX_LOG_DEBUG;	/* expected; the caller decides */
		break;
	case SBX_EUNAVAILABLE:
		lvl = SBX_LOG_WARN;
		break;
	default:
		lvl = SBX_LOG_ERROR;
		break;
	}
	sbx_db_msg(msg, sizeof msg, message);
	f = cJSON_CreateObject();
	if (f != NULL) {
		cJSON_AddStringToObject(f, "error", msg);
		cJSON_AddStringToObject(f, "sqlstate",
		    sqlstate != NULL ? sqlstate : "");
		if (name != NULL)
			cJSON_AddStringToObject(f, "statement", name);
		cJSON_AddStringToObject(f, "code", sbx_strerror(err));
	}
	sbx_log_fields(lvl, MODULE, "statement failed", f);
}

/* ------------------------------------------------------------ connection */

static void
db_forget_prepared(void)
{
	size_t i;

	for (i = 0; i < db.nprepared; i++) {
		free(db.prepared[i].name);
		free(db.prepared[i].sql);
	}
	db.nprepared = 0;
	db.warned_full = 0;
}

void
sbx_db_close(void)
{
	if (db.conn != NULL)
		PQfinish(db.conn);
	db.conn = NULL;
	db.broken = 0;
	db.in_tx = 0;
	db.tx_err = SBX_OK;
	db_forget_prepared();
}

/*
 * Aurora DSQL with DB_AUTH=dsql-iam: the password is a SigV4-presigned
 * DbConnect token (DbConnectAdmin for user "admin") for the host and user
 * of DATABASE_URL. DSQL checks a token only at connect time, so each
 * connect makes a fresh one. Returns a heap string the caller wipes and
 * frees, or NULL (logged) when the URL or the AWS credentials fail.
 */
static char *
iam_password(const char *url)
{
	PQconninfoOption *opts = NULL, *o;
	const char *host = NULL, *user = NULL;
	char *errmsg = NULL;
	char *token = NULL;
	enum sbx_err rc;

	opts = PQconninfoParse(url, &errmsg);
	if (opts == NULL) {
		sbx_log(SBX_LOG_ERROR, MODULE, "DATABASE_URL cannot be parsed");
		goto out;
	}
	for (o = opts; o->keyword != NULL; o++) {
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "user") == 0)
			user = o->val;
	}
	if (host == NULL || user == NULL) {
		sbx_log(SBX_LOG_ERROR, MODULE,
		    "DB_AUTH=dsql-iam: DATABASE_URL must name the host and user");
		goto out;
	}
	rc = sbx_aws_dsql_password(host, user, &token);
	if (rc != SBX_OK) {
		sbx_log(SBX_LOG_ERROR, MODULE,
		    "DB_AUTH=dsql-iam: cannot make an IAM token: %s",
		    sbx_strerror(rc));
		token = NULL;
	}
out:
	PQfreemem(errmsg);
	PQconninfoFree(opts);
	return token;
}

static double
db_age_seconds(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - db.opened.tv_sec) +
	    (double)(now.tv_nsec - db.opened.tv_nsec) / 1e9;
}

/*
 * Opens a new connection into db.conn. Our keywords come before the URL so
 * that the operator's URL can override the keepalive defaults; the
 * connect timeout from the settings and the IAM password come after it,
 * so they win.
 */
static enum sbx_err
db_open(void)
{
	const struct sbx_config *cfg = sbx_config();
	const char *kw[16];
	const char *val[16];
	char timeout[32];
	char *password = NULL;
	char msg[512];
	int n = 0;

	if (cfg == NULL || cfg->database_url == NULL) {
		sbx_log(SBX_LOG_ERROR, MODULE, "DATABASE_URL is not configured");
		return SBX_ECONFIG;
	}
	snprintf(timeout, sizeof timeout, "%ld",
	    cfg->db_connect_timeout_seconds > 0 ?
	    cfg->db_connect_timeout_seconds : 5);

	kw[n] = "keepalives";		val[n++] = "1";
	kw[n] = "keepalives_idle";	val[n++] = "30";
	kw[n] = "keepalives_interval";	val[n++] = "10";
	kw[n] = "keepalives_count";	val[n++] = "3";
	kw[n] = "tcp_user_timeout";	val[n++] = "30000";
	kw[n] = "application_name";	val[n++] = program_invocation_short_name;
	kw[n] = "dbname";		val[n++] = cfg->database_url;
	kw[n] = "connect_timeout";	val[n++] = timeout;
	if (cfg->db_auth != NULL && strcmp(cfg->db_auth, "dsql-iam") == 0) {
		password = iam_password(cfg->database_url);
		if (password == NULL)
			return SBX_EUNAVAILABLE;
		kw[n] = "password";	val[n++] = password;
	}
	kw[n] = NULL;
	val[n] = NULL;

	db.conn = PQconnectdbParams(kw, val, 1);
	if (password != NULL) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	if (db.conn == NULL) {
		sbx_log(SBX_LOG_ERROR, MODULE, "cannot allocate a connection");
		return SBX_ENOMEM;
	}
	if (PQstatus(db.conn) != CONNECTION_OK) {
		/* libpq's connect errors never include the password. */
		sbx_db_msg(msg, sizeof msg, PQerrorMessage(db.conn));
		sbx_log(SBX_LOG_WARN, MODULE, "cannot connect: %s", msg);
		sbx_db_close();
		return SBX_EUNAVAILABLE;
	}
	PQsetNoticeReceiver(db.conn, db_notice, NULL);
	clock_gettime(CLOCK_MONOTONIC, &db.opened);
	db.broken = 0;
	sbx_log(SBX_LOG_DEBUG, MODULE, "connected");
	return SBX_OK;
}

/*
 * A cheap look, without sending anything, at an idle connection: reads
 * what the server may have sent meanwhile (after a restart or
 * pg_terminate_backend, a FATAL 57P01 and then end of file) and parses
 * it, so that db_notice can mark the connection broken. A connection that
 * died silently is caught later, by the statement's own failure.
 */
static int
db_idle_ok(PGconn *conn)
{
	if (!PQconsumeInput(conn))
		return 0;
	(void)PQisBusy(conn);		/* parses input: notices, FATAL */
	if (db.broken || PQstatus(conn) != CONNECTION_OK)
		return 0;
	return 1;
}

/*
 * Returns a usable connection, opening a new one when there is none, when
 * the last one failed, when it is older than DB_MAX_CONN_AGE_SECONDS, or
 * when a cheap look at its socket shows the server has closed it (after a
 * restart). *reused tells whether it is an old connection, on which a
 * failure may just mean it went stale.
 */
static enum sbx_err
db_acquire(PGconn **out, int *reused)
{
	const struct sbx_config *cfg = sbx_config();
	enum sbx_err rc;

	*out = NULL;
	if (reused != NULL)
		*reused = 0;
	if (db.in_tx) {
		sbx_log(SBX_LOG_ERROR, MODULE,
		    "connection requested inside a transaction body");
		return SBX_EINTERNAL;
	}
	if (db.conn != NULL) {
		const char *why = NULL;

		if (db.broken)
			why = "it failed";
		else if (cfg != NULL && cfg->db_max_conn_age_seconds > 0 &&
		    db_age_seconds() >= (double)cfg->db_max_conn_age_seconds)
			why = "it reached DB_MAX_CONN_AGE_SECONDS";
		else if (!db_idle_ok(db.conn))
			why = "the server closed it";
		else if (PQtransactionStatus(db.conn) != PQTRANS_IDLE)
			why = "it was left inside a transaction";
		if (why != NULL) {
			sbx_log(SBX_LOG_INFO, MODULE, "reconnecting: %s", why);
			sbx_db_close();
		}
	}
	if (db.conn == NULL) {
		rc = db_open();
		if (rc != SBX_OK)
			return rc;
	} else if (reused != NULL)
		*reused = 1;
	*out = db.conn;
	return SBX_OK;
}

enum sbx_err
sbx_db_conn(PGconn **out)
{
	if (out == NULL)
		return SBX_EINVAL;
	if (db.in_tx && db.conn != NULL) {
		*out = db.conn;
		return SBX_OK;
	}
	return db_acquire(out, NULL);
}

/* ------------------------------------------------------------ statements */

enum db_op { DB_OP_PARAMS, DB_OP_PREPARE, DB_OP_PREPARED };

static long
db_ms_until(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (long)(deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/*
 * Sends one request and collects its result without ever blocking past the
 * deadline. Returns the result (the first error if there were several),
 * or NULL when it could not be sent, the connection died, or the deadline
 * passed; *timed_out tells the last case apart.
 */
static PGresult *
db_run(PGconn *conn, enum db_op op, const char *name, const char *sql,
    int nparams, const char *const *params, int *timed_out)
{
	struct timespec deadline;
	PGresult *keep = NULL, *res;
	int sent;

	*timed_out = 0;
	switch (op) {
	case DB_OP_PREPARE:
		sent = PQsendPrepare(conn, name, sql, nparams, NULL);
		break;
	case DB_OP_PREPARED:
		sent = PQsendQueryPrepared(conn, name, nparams, params,
		    NULL, NULL, 0);
		break;
	default:
		sent = PQsendQueryParams(conn, sql, nparams, NULL, params,
		    NULL, NULL, 0);
		break;
	}
	if (!sent)
		return NULL;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += DB_STATEMENT_DEADLINE_MS / 1000;
	for (;;) {
		while (PQisBusy(conn)) {
			struct pollfd pfd = { .fd = PQsocket(conn),
			    .events = POLLIN };
			long left = db_ms_until(&deadline);
			int n;

			if (pfd.fd < 0)
				goto dead;
			if (left <= 0) {
				*timed_out = 1;
				goto dead;
			}
			n = poll(&pfd, 1, (int)left);
			if (n < 0 && errno != EINTR)
				goto dead;
			if (n > 0 && !PQconsumeInput(conn))
				break;	/* PQgetResult reports the failure */
		}
		res = PQgetResult(conn);
		if (res == NULL)
			break;
		if (keep == NULL)
			keep = res;
		else if (PQresultStatus(keep) != PGRES_FATAL_ERROR) {
			PQclear(keep);
			keep = res;
		} else
			PQclear(res);
		if (PQstatus(conn) != CONNECTION_OK)
			break;
	}
	return keep;
dead:
	PQclear(keep);
	return NULL;
}

/* The SQL prepared under name on this connection, or NULL. */
static const char *
db_prepared_sql(const char *name)
{
	size_t i;

	for (i = 0; i < db.nprepared; i++)
		if (strcmp(db.prepared[i].name, name) == 0)
			return db.prepared[i].sql;
	return NULL;
}

static void
db_remember_prepared(const char *name, const char *sql)
{
	char *n = strdup(name), *s = strdup(sql);

	if (n == NULL || s == NULL) {
		/* Harmless: a later PQprepare of the name fails 42P05. */
		free(n);
		free(s);
		return;
	}
	db.prepared[db.nprepared].name = n;
	db.prepared[db.nprepared].sql = s;
	db.nprepared++;
}

/*
 * Turns a failed request (res may be NULL) into a code, logs it and marks
 * the process's connection broken when the failure was at the connection
 * level, so the next call reconnects.
 */
static enum sbx_err
db_fail(PGconn *conn, PGresult *res, const char *name, int timed_out)
{
	const char *state = NULL;
	const char *message;
	enum sbx_err rc;

	if (res != NULL) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		if (message == NULL)
			message = PQresultErrorMessage(res);
	} else
		message = timed_out ? "no answer before the deadline" :
		    PQerrorMessage(conn);
	rc = sbx_db_sqlstate_err(state);
	if (timed_out || PQstatus(conn) != CONNECTION_OK)
		rc = SBX_EUNAVAILABLE;
	else if (res == NULL && rc == SBX_EDB)
		rc = SBX_EUNAVAILABLE;	/* could not even send it */
	if (res != NULL && PQresultStatus(res) != PGRES_FATAL_ERROR &&
	    rc == SBX_EDB)
		message = "unexpected result status";
	db_log_failure(rc, name, state, message);
	if (conn == db.conn) {
		if (rc == SBX_EUNAVAILABLE)
			db.broken = 1;
		/*
		 * "cached plan must not change result type" (0A000): a
		 * migration changed a table under a prepared statement. The
		 * plan only goes with the connection, so start a new one.
		 */
		if (name != NULL && state != NULL &&
		    strcmp(state, "0A000") == 0)
			db.broken = 1;
		/* A COPY left open would swallow the next statements. */
		if (res != NULL && (PQresultStatus(res) == PGRES_COPY_IN ||
		    PQresultStatus(res) == PGRES_COPY_OUT ||
		    PQresultStatus(res) == PGRES_COPY_BOTH))
			db.broken = 1;
	}
	return rc;
}

enum sbx_err
sbx_db_query(PGconn *conn, const char *name, const char *sql, int nparams,
    const char *const *params, PGresult **out)
{
	PGresult *res = NULL;
	enum sbx_err rc = SBX_OK;
	int timed_out = 0;
	int prepared = 0;

	if (out != NULL)
		*out = NULL;
	if (conn == NULL || sql == NULL || out == NULL || nparams < 0 ||
	    (nparams > 0 && params == NULL))
		return SBX_EINVAL;
	if (conn == db.conn && db.broken) {
		rc = SBX_EUNAVAILABLE;
		goto out;
	}

	/*
	 * Statements are only prepared on the process's own connection,
	 * whose set of prepared names we track (and reset on reconnect).
	 */
	if (name != NULL && conn == db.conn) {
		const char *have = db_prepared_sql(name);

		if (have != NULL && strcmp(have, sql) != 0) {
			sbx_log(SBX_LOG_ERROR, MODULE,
			    "statement name %s reused for other SQL", name);
			rc = SBX_EINTERNAL;
			goto out;
		}
		if (have != NULL)
			prepared = 1;
		else if (db.nprepared < DB_MAX_PREPARED) {
			res = db_run(conn, DB_OP_PREPARE, name, sql, nparams,
			    NULL, &timed_out);
			if (res == NULL ||
			    PQresultStatus(res) != PGRES_COMMAND_OK) {
				rc = db_fail(conn, res, name, timed_out);
				goto out;
			}
			PQclear(res);
			res = NULL;
			db_remember_prepared(name, sql);
			prepared = 1;
		} else if (!db.warned_full) {
			sbx_log(SBX_LOG_WARN, MODULE, "more than %d prepared "
			    "statements; running the rest unprepared",
			    DB_MAX_PREPARED);
			db.warned_full = 1;
		}
	}

	if (prepared)
		res = db_run(conn, DB_OP_PREPARED, name, NULL, nparams, params,
		    &timed_out);
	else
		res = db_run(conn, DB_OP_PARAMS, NULL, sql, nparams, params,
		    &timed_out);
	if (res == NULL || (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK)) {
		rc = db_fail(conn, res, name, timed_out);
		goto out;
	}
	*out = res;
	res = NULL;
out:
	PQclear(res);
	if (rc != SBX_OK && conn == db.conn && db.in_tx &&
	    db.tx_err == SBX_OK)
		db.tx_err = rc;
	return rc;
}

/*
 * Autocommit statements. When the connection turns out to be dead and it
 * was an old one, a SELECT is sent once more on a new connection: it may
 * have reached a server that has since gone, but reading twice does no
 * harm. Anything that writes is not re-sent, since we cannot know whether
 * the server ran it; the caller gets SBX_EUNAVAILABLE (a 503) and the
 * next call reconnects.
 */
enum sbx_err
sbx_db_exec(const char *name, const char *sql, int nparams,
    const char *const *params, PGresult **out)
{
	PGconn *conn = NULL;
	enum sbx_err rc;
	int reused = 0;

	if (out != NULL)
		*out = NULL;
	if (sql == NULL || out == NULL)
		return SBX_EINVAL;
	rc = db_acquire(&conn, &reused);
	if (rc != SBX_OK)
		return rc;
	rc = sbx_db_query(conn, name, sql, nparams, params, out);
	if (rc == SBX_EUNAVAILABLE && reused && sbx_db_sql_is_select(sql)) {
		sbx_log(SBX_LOG_INFO, MODULE,
		    "connection went stale; retrying a read on a new one");
		rc = db_acquire(&conn, NULL);
		if (rc != SBX_OK)
			return rc;
		rc = sbx_db_query(conn, name, sql, nparams, params, out);
	}
	return rc;
}

enum sbx_err
sbx_db_ping(void)
{
	PGresult *res = NULL;
	enum sbx_err rc;

	rc = sbx_db_exec(NULL, "SELECT 1", 0, NULL, &res);
	PQclear(res);
	return rc == SBX_OK ? SBX_OK : SBX_EUNAVAILABLE;
}

const char *
sbx_db_get(const PGresult *res, int row, const char *column)
{
	int col;

	if (res == NULL || column == NULL || row < 0 || row >= PQntuples(res))
		return NULL;
	col = PQfnumber(res, column);
	if (col < 0 || PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

long long
sbx_db_ll(const PGresult *res, int row, const char *col)
{
	const char *v = sbx_db_get(res, row, col);

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

double
sbx_db_num(const PGresult *res, int row, const char *col, double def)
{
	const char *v = sbx_db_get(res, row, col);

	return v != NULL ? strtod(v, NULL) : def;
}

int
sbx_db_take(void *base, const struct sbx_db_text *cols, size_t n,
    const PGresult *res, int row)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char **dst = (char **)(void *)((char *)base + cols[i].off);
		const char *v = sbx_db_get(res, row, cols[i].col);

		*dst = v != NULL ? strdup(v) : NULL;
		if (v != NULL && *dst == NULL)
			return 0;
	}
	return 1;
}

enum sbx_err
sbx_db_stmt(PGconn *conn, const char *name, const char *sql, int nparams,
    const char *const *params, PGresult **out)
{
	if (conn != NULL)
		return sbx_db_query(conn, name, sql, nparams, params, out);
	return sbx_db_exec(name, sql, nparams, params, out);
}

enum sbx_err
sbx_db_run(PGconn *conn, const char *name, const char *sql, int nparams,
    const char *const *params, long *rows)
{
	PGresult *res = NULL;
	enum sbx_err err;

	err = sbx_db_stmt(conn, name, sql, nparams, params, &res);
	if (err == SBX_OK && rows != NULL)
		*rows = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return err;
}

/* ------------------------------------------------------------ transactions */

static const char sql_begin[] = "BEGIN ISOLATION LEVEL REPEATABLE READ";
static const char sql_commit[] = "COMMIT";
static const char sql_rollback[] = "ROLLBACK";

/* Runs a statement of the transaction frame, discarding its result. */
static enum sbx_err
db_frame(PGconn *conn, const char *sql, char *status, size_t len)
{
	PGresult *res = NULL;
	enum sbx_err rc;

	rc = sbx_db_query(conn, NULL, sql, 0, NULL, &res);
	if (rc == SBX_OK && status != NULL)
		snprintf(status, len, "%s", PQcmdStatus(res));
	PQclear(res);
	return rc;
}

/* Puts the connection back to idle after a failed attempt. */
static void
db_rollback(PGconn *conn)
{
	if (conn != db.conn || db.broken)
		return;
	if (db_frame(conn, sql_rollback, NULL, 0) != SBX_OK)
		db.broken = 1;
}

/*
 * One attempt: BEGIN, fn, COMMIT. On DSQL the conflict often surfaces
 * only at COMMIT (40001, OC000/OC001), which comes back as
 * SBX_ESERIALIZE like a conflict inside fn. A COMMIT that cannot be
 * confirmed because the connection died is SBX_EUNAVAILABLE: the
 * transaction may or may not have committed, and we do not guess.
 */
static enum sbx_err
db_tx_once(sbx_db_tx_fn fn, void *arg)
{
	PGconn *conn = NULL;
	char status[32] = "";
	enum sbx_err rc;
	int reused = 0;

	rc = db_acquire(&conn, &reused);
	if (rc != SBX_OK)
		return rc;
	rc = db_frame(conn, sql_begin, NULL, 0);
	if (rc == SBX_EUNAVAILABLE && reused) {
		/* Nothing ran yet, so a stale connection is simply replaced. */
		rc = db_acquire(&conn, NULL);
		if (rc != SBX_OK)
			return rc;
		rc = db_frame(conn, sql_begin, NULL, 0);
	}
	if (rc != SBX_OK)
		return rc;

	db.in_tx = 1;
	db.tx_err = SBX_OK;
	rc = fn(conn, arg);
	db.in_tx = 0;
	if (rc != SBX_OK) {
		db_rollback(conn);
		return rc;
	}

	rc = db_frame(conn, sql_commit, status, sizeof status);
	if (rc != SBX_OK) {
		db_rollback(conn);
		return rc;
	}
	/*
	 * COMMIT of a transaction an earlier statement aborted answers
	 * "ROLLBACK", not an error: fn ignored a failure. Report that
	 * failure rather than pretend it committed.
	 */
	if (strcmp(status, "COMMIT") != 0) {
		rc = db.tx_err != SBX_OK ? db.tx_err : SBX_EDB;
		sbx_log(SBX_LOG_ERROR, MODULE, "transaction body ignored a "
		    "failed statement (%s); rolled back", sbx_strerror(rc));
	}
	return rc;
}

static void
db_sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
	    .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static unsigned long
db_random(void)
{
	unsigned long r;
	struct timespec ts;

	if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
		return r;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 16);
}

enum sbx_err
sbx_db_tx(sbx_db_tx_fn fn, void *arg)
{
	const struct sbx_config *cfg = sbx_config();
	long max = 5, base = 20;
	enum sbx_err rc = SBX_ESERIALIZE;
	int attempt;

	if (fn == NULL)
		return SBX_EINVAL;
	if (db.in_tx) {
		sbx_log(SBX_LOG_ERROR, MODULE, "nested sbx_db_tx");
		return SBX_EINTERNAL;
	}
	if (cfg != NULL) {
		if (cfg->db_tx_max_attempts > 0)
			max = cfg->db_tx_max_attempts;
		if (cfg->db_tx_backoff_ms >= 0)
			base = cfg->db_tx_backoff_ms;
	}
	for (attempt = 1; attempt <= max; attempt++) {
		long ms;

		rc = db_tx_once(fn, arg);
		if (rc != SBX_ESERIALIZE || attempt == max)
			break;
		ms = sbx_db_backoff_ms(base, attempt, db_random());
		sbx_log(SBX_LOG_DEBUG, MODULE, "serialization conflict; "
		    "attempt %d of %ld again in %ld ms", attempt + 1, max, ms);
		db_sleep_ms(ms);
	}
	if (rc == SBX_ESERIALIZE)
		sbx_log(SBX_LOG_WARN, MODULE, "transaction still conflicting "
		    "after %ld attempts", max);
	return rc;
}
