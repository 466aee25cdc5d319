/*
 * Templates: the CloudFormation bodies sandboxes are built from. A
 * template is a name with numbered versions; PUT adds a version, DELETE
 * disables the name, and a sandbox records the version it was built from.
 * This module owns the templates SQL, the validation of an admin's PUT,
 * and the check of a create's parameters against the parameters a
 * template declares (including which are NoEcho, whose values are never
 * echoed or logged).
 *
 * Declared parameters are a JSON array of objects
 * {"name", "description"?, "default"?, "no_echo"?, "allowed_values"?,
 * "allowed_pattern"?, "max_length"?, "required"?}; a parameter with no
 * default is required unless "required": false.
 *
 * Memory: structs handed out are heap-allocated and freed by the caller
 * with sbx_template_free / sbx_template_list_fini.
 */
#ifndef SBX_TEMPLATE_H
#define SBX_TEMPLATE_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "common/core/err.h"

/* CloudFormation's TemplateBody limit (bytes). */
#define SBX_TEMPLATE_BODY_MAX 51200

struct sbx_template {
	char *name;
	long version;
	char *description;
	char *body;			/* CloudFormation template text */
	char *parameters;		/* JSON array text (see above) */
	char *capabilities;		/* JSON array text of strings, or NULL */
	long default_ttl_minutes;	/* 0: not set */
	long max_ttl_minutes;		/* 0: not set */
	int enabled;
	int is_default;
	long long created_at;
	char *max_cost_usd;		/* numeric text; NULL: no cap */
	char *estimated_hourly_usd;	/* numeric text; NULL: unknown */
};

struct sbx_template_list {
	struct sbx_template **items;
	size_t n;
};

void sbx_template_free(struct sbx_template *t);
void sbx_template_list_fini(struct sbx_template_list *list);

/* Template names follow the sandbox rule: ^[a-z][a-z0-9-]{2,62}$. */
int sbx_template_name_valid(const char *name);

/*
 * The TTLs a template allows. The effective default and maximum are the
 * template's where set (> 0) bounded by the global settings: max =
 * min(template max, global max, max lifetime); default = min(template
 * default or global default, max), at least 1.
 */
struct sbx_ttl_bounds {
	long default_minutes;
	long max_minutes;
	long max_lifetime_minutes;
};
void sbx_template_ttl_bounds(long tmpl_default, long tmpl_max,
    long global_default, long global_max, long max_lifetime,
    struct sbx_ttl_bounds *out);

/*
 * Checks a declared-parameters array (cJSON array of objects as above).
 * SBX_EINVAL with detail naming the entry when malformed.
 */
enum sbx_err sbx_template_params_valid(const cJSON *declared, char *detail,
    size_t detail_len);

/*
 * Checks a create's parameters (object of string values, or NULL) against
 * the declared array text. Unknown names, non-string values, values not
 * allowed, and missing required ones are SBX_EINVAL with *bad_name set to
 * "parameters.<Name>" in bad (static-size buffer of bad_len) and a
 * sentence in detail (never containing a NoEcho value). On SBX_OK,
 * *effective gets (caller cJSON_Delete()s) an object with every declared
 * parameter that has a value (given, else default).
 */
enum sbx_err sbx_template_params_check(const char *declared_json,
    const cJSON *given, cJSON **effective, char *bad, size_t bad_len,
    char *detail, size_t detail_len);

/*
 * Frees a parameters object that may hold NoEcho values in clear (the
 * effective parameters, a row's stack_parameters parsed), wiping its
 * string values first. NULL is fine.
 */
void sbx_template_params_free(cJSON *params);

/*
 * A copy of params (object) with NoEcho values replaced by "****", for
 * storage in the row, echoing and logging. Caller cJSON_Delete()s.
 */
cJSON *sbx_template_params_masked(const char *declared_json,
    const cJSON *params);

/*
 * The declared parameters for display: the stored array (or object) with
 * the default of every NoEcho parameter replaced by "****", under any
 * spelling of "default" and whichever spelling of "NoEcho" said so (the
 * same reader as sbx_template_params_check). Broken text gives []. Caller
 * cJSON_Delete()s; NULL on ENOMEM.
 */
cJSON *sbx_template_params_public(const char *declared_json);

/*
 * Our declaration array from a CloudFormation "Parameters" object, read
 * with the same spelling rules (so "NoEcho": "True" stays NoEcho). Caller
 * cJSON_Delete()s; NULL on ENOMEM.
 */
cJSON *sbx_template_params_from_cfn(const cJSON *cfn_params);

/*
 * The enabled template by name (highest version), or the default with
 * name NULL.
 */
enum sbx_err sbx_template_get(const char *name, struct sbx_template **out);
/* One exact version, enabled or not (a sandbox's recorded version). */
enum sbx_err sbx_template_get_version(const char *name, long version,
    struct sbx_template **out);
/* Every enabled template, highest version per name, by name. */
enum sbx_err sbx_template_list(struct sbx_template_list *out);

/*
 * A new version of a template, as an admin gives it (common/api decodes
 * the request into this).
 */
struct sbx_template_put {
	const char *name;		/* ^[a-z][a-z0-9-]{2,62}$ */
	const char *actor;		/* recorded as created_by */
	/*
	 * The CloudFormation template text (JSON or YAML), at most
	 * SBX_TEMPLATE_BODY_MAX bytes. from_object says it is the
	 * serialisation of a JSON object the admin gave as "template"
	 * rather than text given as "body": refusals name that field.
	 * NULL: neither or both were given.
	 */
	const char *body;
	int from_object;
	const char *description;	/* NULL or "": the body's Description */
	/*
	 * The declared parameters (an array as above); NULL: read from a
	 * JSON body's "Parameters".
	 */
	const cJSON *parameters;
	const cJSON *capabilities;	/* array of CAPABILITY_* or NULL */
	long long default_ttl_minutes;	/* 0: not set */
	long long max_ttl_minutes;	/* 0: not set */
	int is_default;			/* 1, 0, or -1: keep the name's */
	int has_max_cost;
	double max_cost_usd;		/* with has_max_cost: the cap */
};

/* A new version checked, in the form it is stored in. */
struct sbx_template_put_checked {
	cJSON *doc;			/* a JSON body parsed, or NULL (YAML) */
	cJSON *declared;		/* the declared parameters */
	char *params_text;		/* declared, as stored */
	char *caps_text;		/* the capabilities, as stored ("[]") */
	const char *description;	/* points into in or doc */
};

/*
 * Checks a new version without storing it (pure, apart from the settings
 * that bound TTLs): SBX_EINVAL with *field (the member at fault, by its
 * API name: "name", "body" or "template", "parameters", "capabilities",
 * "default_ttl_minutes", "max_ttl_minutes") and a sentence in detail. On
 * SBX_OK, *out holds what is stored, released with
 * sbx_template_put_checked_fini (which also accepts a zeroed *out).
 */
enum sbx_err sbx_template_put_check(const struct sbx_template_put *in,
    struct sbx_template_put_checked *out, const char **field, char *detail,
    size_t detail_len);
void sbx_template_put_checked_fini(struct sbx_template_put_checked *p);

/*
 * Validates (sbx_template_put_check) and inserts version max+1
 * (enabled; is_default 1 makes it the default template, -1 keeps what the
 * name was). Without declared parameters, they are read from a JSON
 * body's "Parameters"; without a description, from its "Description".
 * *out optional.
 */
enum sbx_err sbx_template_put(const struct sbx_template_put *in,
    const char **field, char *detail, size_t detail_len,
    struct sbx_template **out);

/* Disables every version of name; SBX_ENOTFOUND when unknown. */
enum sbx_err sbx_template_disable(const char *name);

/*
 * The API object: name, version, description, parameters (the declared
 * array; a NoEcho parameter's default shows as "****"), default_ttl_minutes
 * and max_ttl_minutes (effective: the template's, bounded by the global
 * settings), capabilities, default, created_at. with_body adds "body":
 * the text as written, NoEcho defaults included, so only for admins.
 * Caller cJSON_Delete()s.
 */
cJSON *sbx_template_to_json(const struct sbx_template *t, int with_body);

#endif
