/*
 * Unit tests of common/aws's credential chain and region: the pure
 * parsers (shared credentials file, container endpoint JSON), each
 * provider, their order, and the cache of temporary credentials with its
 * refresh before Expiration. The container endpoint is played by a small
 * server on a loopback socket inside this process (FULL_URI on loopback,
 * since the ECS address cannot be reached here).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "common/io/aws.h"

static char tmpdir[64];

/* ---------------------------------------------------------- the endpoint */

struct endpoint {
	int fd;
	int port;
	pthread_t thread;
	pthread_mutex_t lock;
	int status;			/* what to answer */
	char body[1024];
	int requests;			/* how many came */
	char auth[256];			/* the last Authorization header */
};

static struct endpoint ep;

static void
header_value(const char *req, const char *name, char *out, size_t len)
{
	const char *p = strcasestr(req, name), *e;
	size_t n;

	out[0] = '\0';
	if (p == NULL)
		return;
	p += strlen(name);
	while (*p == ' ')
		p++;
	if ((e = strstr(p, "\r\n")) == NULL)
		return;
	n = (size_t)(e - p) < len - 1 ? (size_t)(e - p) : len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

static void *
endpoint_serve(void *arg)
{
	char req[4096], answer[2048];
	size_t n;
	ssize_t r;
	int c;

	(void)arg;
	while ((c = accept(ep.fd, NULL, NULL)) >= 0) {
		n = 0;
		while (n < sizeof(req) - 1) {
			r = read(c, req + n, sizeof(req) - 1 - n);
			if (r <= 0)
				break;
			n += (size_t)r;
			req[n] = '\0';
			if (strstr(req, "\r\n\r\n") != NULL)
				break;
		}
		req[n] = '\0';
		pthread_mutex_lock(&ep.lock);
		ep.requests++;
		header_value(req, "\r\nAuthorization:", ep.auth,
		    sizeof(ep.auth));
		snprintf(answer, sizeof(answer), "HTTP/1.1 %d X\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n\r\n%s", ep.status, strlen(ep.body),
		    ep.body);
		pthread_mutex_unlock(&ep.lock);
		(void)send(c, answer, strlen(answer), MSG_NOSIGNAL);
		close(c);
	}
	return NULL;
}

static void
endpoint_answer(int status, long long expires_in)
{
	char exp[32];
	time_t t = time(NULL) + (time_t)expires_in;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(exp, sizeof(exp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	pthread_mutex_lock(&ep.lock);
	ep.status = status;
	snprintf(ep.body, sizeof(ep.body), "{\"AccessKeyId\":\"ASIATEMP\","
	    "\"SecretAccessKey\":\"temp-secret\",\"Token\":\"temp-token\","
	    "\"Expiration\":\"%s\"}", exp);
	ep.requests = 0;
	ep.auth[0] = '\0';
	pthread_mutex_unlock(&ep.lock);
}

static int
endpoint_requests(void)
{
	int n;

	pthread_mutex_lock(&ep.lock);
	n = ep.requests;
	pthread_mutex_unlock(&ep.lock);
	return n;
}

static void
clear_env(void)
{
	static const char *const vars[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		"AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "AWS_REGION",
		"AWS_DEFAULT_REGION", "SBX_ENV_FILE",
	};
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
	/* No ~/.aws/credentials of the machine running the tests. */
	setenv("HOME", tmpdir, 1);
	sbx_aws_creds_reset();
}

static int
setup(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sbx-test-creds-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	pthread_mutex_init(&ep.lock, NULL);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ep.fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(ep.fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(ep.fd, 8) != 0 ||
	    getsockname(ep.fd, (struct sockaddr *)&a, &alen) != 0)
		return -1;
	ep.port = ntohs(a.sin_port);
	endpoint_answer(200, 3600);
	return pthread_create(&ep.thread, NULL, endpoint_serve, NULL);
}

static int
teardown(void **state)
{
	char path[128];

	(void)state;
	/* shutdown() wakes the accept() of the serving thread. */
	shutdown(ep.fd, SHUT_RDWR);
	pthread_join(ep.thread, NULL);
	close(ep.fd);
	snprintf(path, sizeof(path), "%s/credentials", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/token", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	sbx_aws_creds_reset();
	return 0;
}

static void
write_file(const char *name, const char *text, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
set_full_uri(const char *host)
{
	char url[128];

	snprintf(url, sizeof(url), "http://%s:%d/v2/credentials/x", host,
	    ep.port);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
}

/* ------------------------------------------------------------ parsers */

static void
test_parse_ini(void **state)
{
	static const char text[] =
	    "# a comment\n"
	    "[default]\n"
	    "aws_access_key_id = AKIDDEFAULT\n"
	    "aws_secret_access_key=secretdefault\n"
	    "\n"
	    "[ dev ]\r\n"
	    "; another comment\r\n"
	    "AWS_ACCESS_KEY_ID = AKIDDEV  \r\n"
	    "aws_secret_access_key = sec=ret/dev\r\n"
	    "aws_session_token = tokdev\r\n"
	    "s3 =\n"
	    "  aws_access_key_id = NESTED\n"
	    "[half]\n"
	    "aws_access_key_id = AKIDHALF\n";
	struct sbx_aws_creds c;

	(void)state;
	assert_int_equal(sbx_aws_creds_parse_ini(text, strlen(text), "default",
	    &c), SBX_OK);
	assert_string_equal(c.access_key_id, "AKIDDEFAULT");
	assert_string_equal(c.secret_access_key, "secretdefault");
	assert_null(c.session_token);
	assert_int_equal(c.expiration, 0);
	sbx_aws_creds_fini(&c);

	assert_int_equal(sbx_aws_creds_parse_ini(text, strlen(text), "dev", &c),
	    SBX_OK);
	assert_string_equal(c.access_key_id, "AKIDDEV");
	assert_string_equal(c.secret_access_key, "sec=ret/dev");
	assert_string_equal(c.session_token, "tokdev");
	sbx_aws_creds_fini(&c);

	assert_int_equal(sbx_aws_creds_parse_ini(text, strlen(text), "half", &c),
	    SBX_ENOTFOUND);
	assert_null(c.access_key_id);
	assert_int_equal(sbx_aws_creds_parse_ini(text, strlen(text), "nope", &c),
	    SBX_ENOTFOUND);
	assert_int_equal(sbx_aws_creds_parse_ini("", 0, "default", &c),
	    SBX_ENOTFOUND);
	sbx_aws_creds_fini(&c);
	sbx_aws_creds_fini(NULL);
}

/*
 * Found by fuzz_aws_creds: the file's key id went into SigV4's
 * "Credential=<id>/<scope>" unchecked, so a ',' or '/' in it changed the
 * header's meaning. The file now obeys the container answer's rule.
 */
static void
test_parse_ini_bad_key_id(void **state)
{
	static const char *const bad[] = {
	    "[default]\naws_access_key_id=AKIA,%%\naws_secret_access_key=s\n",
	    "[default]\naws_access_key_id=AK/IA\naws_secret_access_key=s\n",
	    "[default]\naws_access_key_id=AK IA\naws_secret_access_key=s\n",
	    "[default]\naws_access_key_id=AKIA=\naws_secret_access_key=s\n",
	    "[default]\r\naws_access_key_id=AKIA\r\naws_secret_access_key=s\n"
	    "aws_session_token=a\rb\n",
	};
	struct sbx_aws_creds c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sbx_aws_creds_parse_ini(bad[i], strlen(bad[i]),
		    "default", &c), SBX_EPARSE);
		assert_null(c.access_key_id);
		assert_null(c.secret_access_key);
	}
}

static void
test_parse_container(void **state)
{
	static const char ok[] = "{\"RoleArn\":\"arn:aws:iam::1:role/x\","
	    "\"AccessKeyId\":\"ASIAEXAMPLE\",\"SecretAccessKey\":\"s3cr3t\","
	    "\"Token\":\"tok\",\"Expiration\":\"2026-11-26T10:00:00Z\"}";
	static const char noexp[] = "{\"AccessKeyId\":\"A\","
	    "\"SecretAccessKey\":\"S\"}";
	static const char *const bad[] = {
		"", "[]", "{", "{\"AccessKeyId\":\"A\"}",
		"{\"AccessKeyId\":\"\",\"SecretAccessKey\":\"S\"}",
		"{\"AccessKeyId\":1,\"SecretAccessKey\":\"S\"}",
		"{\"AccessKeyId\":\"A/B\",\"SecretAccessKey\":\"S\"}",
		"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\","
		    "\"Expiration\":\"tomorrow\"}",
		"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":5}",
	};
	struct sbx_aws_creds c;
	size_t i;

	(void)state;
	assert_int_equal(sbx_aws_creds_parse_container(ok, strlen(ok), &c),
	    SBX_OK);
	assert_string_equal(c.access_key_id, "ASIAEXAMPLE");
	assert_string_equal(c.secret_access_key, "s3cr3t");
	assert_string_equal(c.session_token, "tok");
	assert_int_equal(c.expiration, 1795687200LL);
	sbx_aws_creds_fini(&c);

	assert_int_equal(sbx_aws_creds_parse_container(noexp, strlen(noexp),
	    &c), SBX_OK);
	assert_int_equal(c.expiration, 0);
	assert_null(c.session_token);
	sbx_aws_creds_fini(&c);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (sbx_aws_creds_parse_container(bad[i], strlen(bad[i]), &c) !=
		    SBX_EPARSE)
			fail_msg("accepted %s", bad[i]);
		assert_null(c.access_key_id);
	}
}

/* ---------------------------------------------------------- providers */

static void
test_env(void **state)
{
	struct sbx_aws_creds c;

	(void)state;
	clear_env();
	assert_int_equal(sbx_aws_creds_from_env(&c), SBX_ENOTFOUND);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	assert_int_equal(sbx_aws_creds_from_env(&c), SBX_ECONFIG);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	assert_int_equal(sbx_aws_creds_from_env(&c), SBX_OK);
	assert_string_equal(c.access_key_id, "AKIDENV");
	assert_null(c.session_token);
	sbx_aws_creds_fini(&c);
	setenv("AWS_SESSION_TOKEN", "envtoken", 1);
	assert_int_equal(sbx_aws_creds_from_env(&c), SBX_OK);
	assert_string_equal(c.session_token, "envtoken");
	sbx_aws_creds_fini(&c);
}

static void
test_file(void **state)
{
	char path[128];
	struct sbx_aws_creds c;

	(void)state;
	clear_env();
	assert_int_equal(sbx_aws_creds_from_file(&c), SBX_ENOTFOUND);
	write_file("credentials", "[default]\naws_access_key_id=AKIDFILE\n"
	    "aws_secret_access_key=filesecret\n[ci]\naws_access_key_id=AKIDCI\n"
	    "aws_secret_access_key=cisecret\naws_session_token=citoken\n",
	    path, sizeof(path));
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	assert_int_equal(sbx_aws_creds_from_file(&c), SBX_OK);
	assert_string_equal(c.access_key_id, "AKIDFILE");
	sbx_aws_creds_fini(&c);
	setenv("AWS_PROFILE", "ci", 1);
	assert_int_equal(sbx_aws_creds_from_file(&c), SBX_OK);
	assert_string_equal(c.access_key_id, "AKIDCI");
	assert_string_equal(c.session_token, "citoken");
	sbx_aws_creds_fini(&c);
	setenv("AWS_PROFILE", "missing", 1);
	assert_int_equal(sbx_aws_creds_from_file(&c), SBX_ENOTFOUND);

	/* Without the variable, ~/.aws/credentials. */
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_PROFILE");
	assert_int_equal(sbx_aws_creds_from_file(&c), SBX_ENOTFOUND);
}

static void
test_container(void **state)
{
	char path[128];
	struct sbx_aws_creds c;

	(void)state;
	clear_env();
	assert_int_equal(sbx_aws_creds_from_container(&c), SBX_ENOTFOUND);

	endpoint_answer(200, 3600);
	set_full_uri("127.0.0.1");
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer from-env", 1);
	assert_int_equal(sbx_aws_creds_from_container(&c), SBX_OK);
	assert_string_equal(c.access_key_id, "ASIATEMP");
	assert_string_equal(c.secret_access_key, "temp-secret");
	assert_string_equal(c.session_token, "temp-token");
	assert_true(c.expiration > (long long)time(NULL) + 3000);
	assert_string_equal(ep.auth, "Bearer from-env");
	sbx_aws_creds_fini(&c);

	/* The token file wins over the variable; its newline is dropped. */
	write_file("token", "from-file\n", path, sizeof(path));
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path, 1);
	set_full_uri("localhost");
	assert_int_equal(sbx_aws_creds_from_container(&c), SBX_OK);
	assert_string_equal(ep.auth, "from-file");
	sbx_aws_creds_fini(&c);

	endpoint_answer(403, 3600);
	assert_int_equal(sbx_aws_creds_from_container(&c), SBX_EAUTH);
	endpoint_answer(500, 3600);
	assert_int_equal(sbx_aws_creds_from_container(&c), SBX_EUNAVAILABLE);
	pthread_mutex_lock(&ep.lock);
	ep.status = 200;
	snprintf(ep.body, sizeof(ep.body), "{\"AccessKeyId\":\"A\"}");
	pthread_mutex_unlock(&ep.lock);
	assert_int_equal(sbx_aws_creds_from_container(&c), SBX_EPARSE);
	assert_null(c.access_key_id);

	/* FULL_URI must be https or loopback http; RELATIVE_URI a path. */
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.1.2.3/creds", 1);
	assert_int_equal(sbx_aws_creds_from_container(&c), SBX_ECONFIG);
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "@evil.example/x", 1);
	assert_int_equal(sbx_aws_creds_from_container(&c), SBX_ECONFIG);
}

static void
test_chain_order(void **state)
{
	char path[128];
	struct sbx_aws_creds c;

	(void)state;
	clear_env();
	assert_int_equal(sbx_aws_creds_get(&c), SBX_EAUTH);

	write_file("credentials", "[default]\naws_access_key_id=AKIDFILE\n"
	    "aws_secret_access_key=filesecret\n", path, sizeof(path));
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	assert_int_equal(sbx_aws_creds_get(&c), SBX_OK);
	assert_string_equal(c.access_key_id, "AKIDFILE");
	sbx_aws_creds_fini(&c);

	/* The container beats the file... */
	endpoint_answer(200, 3600);
	set_full_uri("127.0.0.1");
	assert_int_equal(sbx_aws_creds_get(&c), SBX_OK);
	assert_string_equal(c.access_key_id, "ASIATEMP");
	sbx_aws_creds_fini(&c);

	/* ...and the environment beats both, without asking the endpoint. */
	endpoint_answer(200, 3600);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	assert_int_equal(sbx_aws_creds_get(&c), SBX_OK);
	assert_string_equal(c.access_key_id, "AKIDENV");
	sbx_aws_creds_fini(&c);
	assert_int_equal(endpoint_requests(), 0);

	/* A configured but failing endpoint is not skipped for the file. */
	clear_env();
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	set_full_uri("127.0.0.1");
	endpoint_answer(500, 3600);
	assert_int_equal(sbx_aws_creds_get(&c), SBX_EUNAVAILABLE);
	assert_null(c.access_key_id);
}

static void
test_cache_and_refresh(void **state)
{
	struct sbx_aws_creds c;
	int i;

	(void)state;
	clear_env();
	set_full_uri("127.0.0.1");

	/* Good for an hour: fetched once, then served from the cache. */
	endpoint_answer(200, 3600);
	for (i = 0; i < 3; i++) {
		assert_int_equal(sbx_aws_creds_get(&c), SBX_OK);
		assert_string_equal(c.session_token, "temp-token");
		sbx_aws_creds_fini(&c);
	}
	assert_int_equal(endpoint_requests(), 1);

	/* Inside the refresh margin before Expiration: fetched every time. */
	sbx_aws_creds_reset();
	endpoint_answer(200, SBX_AWS_REFRESH_SECONDS - 60);
	for (i = 0; i < 2; i++) {
		assert_int_equal(sbx_aws_creds_get(&c), SBX_OK);
		sbx_aws_creds_fini(&c);
	}
	assert_int_equal(endpoint_requests(), 2);

	/* A failed refresh still serves cached ones that have not expired. */
	endpoint_answer(500, 3600);
	assert_int_equal(sbx_aws_creds_get(&c), SBX_OK);
	assert_string_equal(c.access_key_id, "ASIATEMP");
	sbx_aws_creds_fini(&c);
	assert_int_equal(endpoint_requests(), 1);

	/* Already expired ones are not served. */
	sbx_aws_creds_reset();
	endpoint_answer(200, -10);
	assert_int_equal(sbx_aws_creds_get(&c), SBX_OK);
	sbx_aws_creds_fini(&c);
	endpoint_answer(500, 3600);
	assert_int_equal(sbx_aws_creds_get(&c), SBX_EUNAVAILABLE);
}

static void
test_region(void **state)
{
	char buf[32], tiny[4];

	(void)state;
	clear_env();
	assert_int_equal(sbx_aws_region(buf, sizeof(buf)), SBX_ECONFIG);
	setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
	assert_int_equal(sbx_aws_region(buf, sizeof(buf)), SBX_OK);
	assert_string_equal(buf, "eu-west-1");
	setenv("AWS_REGION", "us-east-2", 1);
	assert_int_equal(sbx_aws_region(buf, sizeof(buf)), SBX_OK);
	assert_string_equal(buf, "us-east-2");
	assert_int_equal(sbx_aws_region(tiny, sizeof(tiny)), SBX_ECONFIG);
	setenv("AWS_REGION", "us-east-2/../x", 1);
	assert_int_equal(sbx_aws_region(buf, sizeof(buf)), SBX_ECONFIG);
}

static void
test_dsql_password(void **state)
{
	char *tok = NULL;

	(void)state;
	clear_env();
	assert_int_equal(sbx_aws_dsql_password("abc.dsql.eu-west-2.on.aws",
	    "admin", &tok), SBX_EAUTH);
	assert_null(tok);
	setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
	setenv("AWS_REGION", "us-east-1", 1);

	/* The region comes from the host name when it says one. */
	assert_int_equal(sbx_aws_dsql_password("abc.dsql.eu-west-2.on.aws",
	    "admin", &tok), SBX_OK);
	assert_memory_equal(tok, "abc.dsql.eu-west-2.on.aws/?Action="
	    "DbConnectAdmin&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
	    "AKIDENV%2F", 109);
	assert_non_null(strstr(tok, "%2Feu-west-2%2Fdsql%2Faws4_request&"));
	assert_non_null(strstr(tok, "&X-Amz-Expires=900&"));
	free(tok);

	/* Another role connects with DbConnect; another host shape takes
	 * the configured region. */
	assert_int_equal(sbx_aws_dsql_password("db.internal.example", "app",
	    &tok), SBX_OK);
	assert_non_null(strstr(tok, "db.internal.example/?Action=DbConnect&"));
	assert_non_null(strstr(tok, "%2Fus-east-1%2Fdsql%2F"));
	free(tok);
	assert_int_equal(sbx_aws_dsql_password("", "app", &tok), SBX_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ini),
		cmocka_unit_test(test_parse_ini_bad_key_id),
		cmocka_unit_test(test_parse_container),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_container),
		cmocka_unit_test(test_chain_order),
		cmocka_unit_test(test_cache_and_refresh),
		cmocka_unit_test(test_region),
		cmocka_unit_test(test_dsql_password),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
