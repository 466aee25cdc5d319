/*
 * Ceiling F of tests/bench/run: the least a libfcgi responder can do, a
 * fixed JSON body for any request, one request at a time per process (as
 * the service's responders). Not part of the product or of make check.
 */
#include <stdlib.h>

#include <fcgiapp.h>

static const char answer[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "\r\n"
    "{\"name\":\"sandbox-service\",\"version\":\"bench\",\"docs\":"
    "\"/api/openapi.json\",\"routes\":[\"/api/me\",\"/api/sandboxes\"]}\n";

int
main(void)
{
	FCGX_Request req;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutStr(answer, (int)sizeof(answer) - 1, req.out);
		FCGX_Finish_r(&req);
	}
	return 0;
}
