/*
 * Ceiling L of tests/bench/run: a naive libfcgi + libpq list. Per request
 * it runs one prepared statement on a connection kept for the life of the
 * process, reading up to 100 sandbox rows of one owner (BENCH_OWNER_ID)
 * from the stack's database (DATABASE_URL), and prints them as a cJSON
 * array; no authentication. It is what the list route does without the
 * service's own work, so a route near it has little left to gain. Not
 * part of the product or of make check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <fcgiapp.h>
#include <libpq-fe.h>

static const char sql[] =
    "SELECT id::text AS id, name, owner_email, template_name,"
    " template_version, status, status_reason, stack_name, stack_id,"
    " parameters, outputs,"
    " floor(extract(epoch FROM created_at))::bigint AS created_at,"
    " floor(extract(epoch FROM expiry_time))::bigint AS expiry_time,"
    " floor(extract(epoch FROM max_expiry_time))::bigint AS max_expiry_time,"
    " floor(extract(epoch FROM updated_at))::bigint AS updated_at"
    " FROM sandboxes WHERE owner_id = $1::uuid"
    " ORDER BY created_at DESC, id DESC LIMIT 100";

/* Text columns as strings, the *_at and version columns as numbers, the
 * jsonb ones parsed. */
static cJSON *
row_json(const PGresult *res, int r)
{
	cJSON *o = cJSON_CreateObject();
	int c, n = PQnfields(res);

	for (c = 0; o != NULL && c < n; c++) {
		const char *name = PQfname(res, c), *v = PQgetvalue(res, r, c);

		if (PQgetisnull(res, r, c))
			cJSON_AddNullToObject(o, name);
		else if (strcmp(name, "parameters") == 0 ||
		    strcmp(name, "outputs") == 0)
			cJSON_AddItemToObject(o, name, cJSON_Parse(v));
		else if (strstr(name, "_at") != NULL ||
		    strcmp(name, "expiry_time") == 0 ||
		    strcmp(name, "max_expiry_time") == 0 ||
		    strcmp(name, "template_version") == 0)
			cJSON_AddNumberToObject(o, name, strtod(v, NULL));
		else
			cJSON_AddStringToObject(o, name, v);
	}
	return o;
}

int
main(void)
{
	const char *url = getenv("DATABASE_URL"), *owner = getenv("BENCH_OWNER_ID");
	FCGX_Request req;
	PGconn *conn;
	PGresult *res;

	if (url == NULL || owner == NULL)
		return 2;
	conn = PQconnectdb(url);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "ceiling_l: %s", PQerrorMessage(conn));
		return 1;
	}
	res = PQprepare(conn, "list", sql, 1, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "ceiling_l: %s", PQerrorMessage(conn));
		return 1;
	}
	PQclear(res);
	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		const char *params[1] = { owner };
		cJSON *arr = NULL;
		char *body = NULL;
		int r;

		res = PQexecPrepared(conn, "list", 1, params, NULL, NULL, 0);
		if (PQresultStatus(res) == PGRES_TUPLES_OK &&
		    (arr = cJSON_CreateArray()) != NULL) {
			for (r = 0; r < PQntuples(res); r++)
				cJSON_AddItemToArray(arr, row_json(res, r));
			body = cJSON_PrintUnformatted(arr);
		}
		/* libfcgi's own printf knows no %zu: format here. */
		if (body != NULL) {
			char head[128];
			size_t len = strlen(body);

			snprintf(head, sizeof(head), "Status: 200 OK\r\n"
			    "Content-Type: application/json\r\n"
			    "Content-Length: %zu\r\n\r\n", len);
			FCGX_PutS(head, req.out);
			FCGX_PutStr(body, (int)len, req.out);
		} else
			FCGX_PutS("Status: 500 Internal Server Error\r\n"
			    "Content-Type: text/plain\r\n\r\nfailed\n", req.out);
		free(body);
		cJSON_Delete(arr);
		PQclear(res);
		FCGX_Finish_r(&req);
	}
	PQfinish(conn);
	return 0;
}
