/*
 * Layer core (common/core/): error codes, settings, logging, JSON,
 * base64url, the small utilities (util.h) and the cryptographic
 * primitives (crypto.h). It is the bottom layer: it includes nothing
 * above it, knows no database, network, sandbox or HTTP request, and is
 * the only layer besides io that calls OpenSSL.
 *
 * Error codes shared by every module of libsbx. Functions return an
 * enum sbx_err and pass results through out-parameters; sbx_strerror()
 * gives each code a stable, human-readable name for logs and tests.
 */
#ifndef SBX_ERR_H
#define SBX_ERR_H

enum sbx_err {
	SBX_OK = 0,
	SBX_ENOMEM,		/* allocation failed */
	SBX_EINVAL,		/* caller passed something malformed */
	SBX_ENOTFOUND,		/* no such row, key, route or object */
	SBX_ECONFLICT,		/* unique key taken, state changed under us */
	SBX_ETOOBIG,		/* input over its size cap */
	SBX_EPARSE,		/* could not parse JSON, XML, a URL, ... */
	SBX_EUNAVAILABLE,	/* a dependency (DB, IdP, AWS) cannot be reached */
	SBX_ESERIALIZE,		/* SQLSTATE 40001: re-run the transaction */
	SBX_EDB,		/* the database refused a statement */
	SBX_EAUTH,		/* credentials missing or not valid */
	SBX_EFORBIDDEN,		/* authenticated, but not allowed */
	SBX_EREMOTE,		/* a remote service answered with an error */
	SBX_ETHROTTLED,		/* a remote service asked us to slow down */
	SBX_EIO,		/* local I/O failed */
	SBX_ECONFIG,		/* a setting is missing or malformed */
	SBX_EINTERNAL,		/* a bug: a state that should not happen */
	SBX_ERR__MAX
};

/* Returns a static string naming the code; never NULL. */
const char *sbx_strerror(enum sbx_err err);

#endif
