/*
 * Unit tests of common/httpclient: which URLs may be fetched, form
 * escaping, reading response headers, and, against a one-shot server on
 * a loopback socket inside this process (no outside network), what is
 * sent and what comes back: headers captured, redirects not followed,
 * the 4 MiB cap, refused connections and the timeout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "common/io/httpclient.h"

static void
test_url_allowed(void **state)
{
	static const struct {
		const char *url;
		int ok;
	} cases[] = {
		{ "https://cloudformation.us-east-1.amazonaws.com/", 1 },
		{ "https://example.com:8443/x?y=z", 1 },
		{ "HTTPS://EXAMPLE.COM/", 1 },
		{ "http://127.0.0.1:4566/", 1 },
		{ "http://127.1.2.3/", 1 },
		{ "http://localhost:8080/x", 1 },
		{ "http://LOCALHOST/", 1 },
		{ "http://[::1]:9000/", 1 },
		{ "http://example.com/", 0 },
		{ "http://128.0.0.1/", 0 },
		{ "http://126.255.255.255/", 0 },
		{ "http://169.254.170.2/v2/credentials", 0 },
		{ "http://127.0.0.1@evil.example/", 0 },
		{ "http://localhost.evil.example/", 0 },
		{ "http://[::2]/", 0 },
		{ "http://[::ffff:8.8.8.8]/", 0 },
		{ "ftp://127.0.0.1/", 0 },
		{ "file:///etc/passwd", 0 },
		{ "gopher://localhost/", 0 },
		{ "127.0.0.1/", 0 },
		{ "https://", 0 },
		{ "https://ex ample.com/", 0 },
		{ "https://example.com/\r\nX: y", 0 },
		{ "", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (sbx_httpclient_url_allowed(cases[i].url) != cases[i].ok)
			fail_msg("url %s: want %d", cases[i].url, cases[i].ok);
	}
	assert_false(sbx_httpclient_url_allowed(NULL));
}

static void
test_form_escape(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		{ "", "" },
		{ "AZaz09-._~", "AZaz09-._~" },
		{ "a b", "a%20b" },
		{ "a+b=c&d", "a%2Bb%3Dc%26d" },
		{ "/?#[]@!$'()*,;:", "%2F%3F%23%5B%5D%40%21%24%27%28%29%2A%2C"
		    "%3B%3A" },
		{ "caf\xc3\xa9", "caf%C3%A9" },
		{ "\x7f\x01", "%7F%01" },
		{ "%", "%25" },
	};
	char *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = sbx_httpclient_form_escape(cases[i].in);
		assert_non_null(s);
		assert_string_equal(s, cases[i].out);
		free(s);
	}
	assert_null(sbx_httpclient_form_escape(NULL));
}

static void
test_response_header(void **state)
{
	char block[] = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n"
	    "x-amzn-RequestId:  abc-123  \r\nRetry-After:5\r\n"
	    "Content-Typo: no\r\n\r\n";
	struct sbx_httpclient_response r = { .status = 200, .headers = block };
	char buf[16], tiny[4];

	(void)state;
	assert_true(sbx_httpclient_response_header(&r, "content-type", buf,
	    sizeof(buf)));
	assert_string_equal(buf, "text/xml");
	assert_true(sbx_httpclient_response_header(&r, "X-Amzn-RequestId", buf,
	    sizeof(buf)));
	assert_string_equal(buf, "abc-123");
	assert_true(sbx_httpclient_response_header(&r, "retry-after", buf,
	    sizeof(buf)));
	assert_string_equal(buf, "5");
	assert_false(sbx_httpclient_response_header(&r, "Location", buf,
	    sizeof(buf)));
	assert_false(sbx_httpclient_response_header(&r, "Content", buf, sizeof(buf)));
	assert_true(sbx_httpclient_response_header(&r, "content-type", tiny,
	    sizeof(tiny)));
	assert_string_equal(tiny, "tex");
	r.headers = NULL;
	assert_false(sbx_httpclient_response_header(&r, "content-type", buf,
	    sizeof(buf)));
}

static void
test_send_refuses(void **state)
{
	struct sbx_httpclient_header bad[] = { { "X-Evil", "a\r\nHost: x" } };
	struct sbx_httpclient_header colon[] = { { "X:Evil", "a" } };
	struct sbx_httpclient_request req = { .method = "GET",
	    .url = "http://example.com/" };
	struct sbx_httpclient_response resp;

	(void)state;
	assert_int_equal(sbx_httpclient_send(&req, &resp), SBX_EINVAL);
	assert_int_equal(resp.status, 0);
	assert_null(resp.body);
	req.url = "http://169.254.170.2/creds";
	assert_int_equal(sbx_httpclient_send(&req, &resp), SBX_EINVAL);
	/* These fail before any connection is tried (port 1 is closed). */
	req.url = "http://127.0.0.1:1/";
	req.method = "TRACE";
	assert_int_equal(sbx_httpclient_send(&req, &resp), SBX_EINVAL);
	req.method = "GET";
	req.headers = bad;
	req.nheaders = 1;
	assert_int_equal(sbx_httpclient_send(&req, &resp), SBX_EINVAL);
	req.headers = colon;
	assert_int_equal(sbx_httpclient_send(&req, &resp), SBX_EINVAL);
	sbx_httpclient_response_fini(&resp);
	sbx_httpclient_response_fini(NULL);
}

/* --------------------------------------------- a one-shot loopback server */

struct server {
	int fd;
	int port;
	pthread_t thread;
	const char *answer;		/* written after the request is read */
	size_t answer_len;
	size_t pad;			/* bytes of body to stream after answer */
	int silent;			/* read, then never answer */
	char request[8192];		/* what the client sent */
};

static int
request_complete(const char *buf, size_t n)
{
	const char *end = memmem(buf, n, "\r\n\r\n", 4);
	const char *cl;
	size_t want = 0;

	if (end == NULL)
		return 0;
	cl = strcasestr(buf, "\r\nContent-Length:");
	if (cl != NULL && cl < end)
		want = strtoul(cl + 17, NULL, 10);
	return (size_t)(end + 4 - buf) + want <= n;
}

static void *
serve(void *arg)
{
	struct server *s = arg;
	char chunk[65536];
	size_t n = 0, sent;
	ssize_t r;
	int c;

	if ((c = accept(s->fd, NULL, NULL)) < 0)
		return NULL;
	while (n < sizeof(s->request) - 1) {
		r = read(c, s->request + n, sizeof(s->request) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		s->request[n] = '\0';
		if (request_complete(s->request, n))
			break;
	}
	if (s->silent) {
		/* Hold the connection until the client gives up. */
		while (read(c, chunk, sizeof(chunk)) > 0)
			;
	} else {
		/* send(MSG_NOSIGNAL): the client may hang up mid-answer. */
		if (send(c, s->answer, s->answer_len, MSG_NOSIGNAL) < 0)
			goto out;
		memset(chunk, 'x', sizeof(chunk));
		for (sent = 0; sent < s->pad; sent += (size_t)r)
			if ((r = send(c, chunk, s->pad - sent < sizeof(chunk) ?
			    s->pad - sent : sizeof(chunk), MSG_NOSIGNAL)) <= 0)
				break;
	}
out:
	close(c);
	return NULL;
}

static void
server_start(struct server *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 1), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	if (s->answer != NULL)
		s->answer_len = strlen(s->answer);
	assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void
server_stop(struct server *s)
{
	pthread_join(s->thread, NULL);
	close(s->fd);
}

/*
 * Sends req to a server started for it, at http://<host>:<port><path>;
 * the server has finished (and s->request holds what it read) on return.
 */
static enum sbx_err
send_to(struct server *s, const char *host, const char *path,
    struct sbx_httpclient_request *req, struct sbx_httpclient_response *resp)
{
	char url[64];
	enum sbx_err err;

	server_start(s);
	snprintf(url, sizeof(url), "http://%s:%d%s", host, s->port, path);
	req->url = url;
	err = sbx_httpclient_send(req, resp);
	server_stop(s);
	req->url = NULL;
	return err;
}

static void
test_send_post(void **state)
{
	static const char body[] = "Action=DescribeStacks&Version=2010-05-15";
	struct server s = { .answer = "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/xml\r\nx-amzn-RequestId: r-1\r\n"
	    "Content-Length: 5\r\nConnection: close\r\n\r\nhello" };
	struct sbx_httpclient_header h[] = {
		{ "Content-Type", "application/x-www-form-urlencoded" },
		{ "X-Empty", "" },
	};
	struct sbx_httpclient_request req = { .method = "POST", .headers = h,
	    .nheaders = 2, .body = body, .body_len = strlen(body) };
	struct sbx_httpclient_response resp;
	char buf[32];

	(void)state;
	assert_int_equal(send_to(&s, "127.0.0.1", "/", &req, &resp), SBX_OK);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.body_len, 5);
	assert_string_equal(resp.body, "hello");
	assert_true(sbx_httpclient_response_header(&resp, "X-Amzn-RequestId", buf,
	    sizeof(buf)));
	assert_string_equal(buf, "r-1");
	sbx_httpclient_response_fini(&resp);

	assert_non_null(strstr(s.request, "POST / HTTP/1.1\r\n"));
	assert_non_null(strstr(s.request,
	    "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
	assert_non_null(strstr(s.request, "\r\nX-Empty:"));
	assert_null(strcasestr(s.request, "\r\nExpect:"));
	assert_non_null(strstr(s.request, body));
}

static void
test_redirect_not_followed(void **state)
{
	struct server s = { .answer = "HTTP/1.1 302 Found\r\n"
	    "Location: http://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n"
	    "Connection: close\r\n\r\n" };
	struct sbx_httpclient_request req = { .method = "GET" };
	struct sbx_httpclient_response resp;
	char buf[64];

	(void)state;
	assert_int_equal(send_to(&s, "localhost", "/x", &req, &resp), SBX_OK);
	assert_int_equal(resp.status, 302);
	assert_string_equal(resp.body, "");
	assert_true(sbx_httpclient_response_header(&resp, "location", buf,
	    sizeof(buf)));
	sbx_httpclient_response_fini(&resp);
}

static void
test_too_big(void **state)
{
	/* No Content-Length: the cap must hold while streaming. */
	struct server s = { .answer = "HTTP/1.1 200 OK\r\n"
	    "Connection: close\r\n\r\n", .pad = 4 * 1024 * 1024 + 1 };
	struct sbx_httpclient_request req = { .method = "GET" };
	struct sbx_httpclient_response resp;

	(void)state;
	assert_int_equal(send_to(&s, "127.0.0.1", "/", &req, &resp),
	    SBX_ETOOBIG);
	assert_null(resp.body);
	assert_int_equal(resp.status, 0);
}

static void
test_just_under_cap(void **state)
{
	struct server s = { .answer = "HTTP/1.1 200 OK\r\n"
	    "Connection: close\r\n\r\n", .pad = 4 * 1024 * 1024 };
	struct sbx_httpclient_request req = { .method = "GET" };
	struct sbx_httpclient_response resp;

	(void)state;
	assert_int_equal(send_to(&s, "127.0.0.1", "/", &req, &resp), SBX_OK);
	assert_int_equal(resp.body_len, 4 * 1024 * 1024);
	sbx_httpclient_response_fini(&resp);
}

static void
test_refused_and_timeout(void **state)
{
	struct server s = { .silent = 1 };
	struct sbx_httpclient_request req = { .method = "GET", .timeout_ms = 300 };
	struct sbx_httpclient_response resp;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	char url[64];
	int fd;

	(void)state;
	/* A port that was just free and is closed again: refused. */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", ntohs(a.sin_port));
	req.url = url;
	assert_int_equal(sbx_httpclient_send(&req, &resp), SBX_EUNAVAILABLE);

	/* A server that never answers: the (shortened) timeout ends it. */
	assert_int_equal(send_to(&s, "127.0.0.1", "/", &req, &resp),
	    SBX_EUNAVAILABLE);
	assert_int_equal(resp.status, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_allowed),
		cmocka_unit_test(test_form_escape),
		cmocka_unit_test(test_response_header),
		cmocka_unit_test(test_send_refuses),
		cmocka_unit_test(test_send_post),
		cmocka_unit_test(test_redirect_not_followed),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_just_under_cap),
		cmocka_unit_test(test_refused_and_timeout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
