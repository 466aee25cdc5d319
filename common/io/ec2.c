/*
 * The EC2 client (see ec2.h): builds the Query API form, calls through
 * awsapi, reads the XML answers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/io/aws.h"
#include "common/io/awsxml.h"
#include "common/io/ec2.h"

#define CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"

void
sbx_ec2_instance_fini(struct sbx_ec2_instance *i)
{
	size_t k;

	if (i == NULL)
		return;
	free(i->instance_id);
	free(i->instance_type);
	free(i->platform);
	free(i->tenancy);
	free(i->state);
	for (k = 0; k < i->nvolumes; k++)
		free(i->volume_ids[k]);
	free(i->volume_ids);
	memset(i, 0, sizeof(*i));
}

void
sbx_ec2_volume_fini(struct sbx_ec2_volume *v)
{
	if (v == NULL)
		return;
	free(v->volume_id);
	free(v->volume_type);
	free(v->state);
	memset(v, 0, sizeof(*v));
}

enum sbx_err
sbx_ec2_parse_error(const char *xml, size_t len, struct sbx_aws_error *e)
{
	return sbx_awsxml_parse_error(xml, len, "Response", "Errors", e);
}

/* The first <item> of root's set named set (reservationSet, ...). */
static xmlNode *
first_item(xmlNode *n, const char *set)
{
	return sbx_awsxml_child(sbx_awsxml_child(n, set), "item");
}

static enum sbx_err
read_volumes(xmlNode *inst, struct sbx_ec2_instance *out)
{
	xmlNode *it;
	char **v;

	for (it = first_item(inst, "blockDeviceMapping"); it != NULL;
	    it = sbx_awsxml_next(it)) {
		char *id = NULL;

		if (sbx_awsxml_text(sbx_awsxml_child(it, "ebs"), "volumeId",
		    &id) != 0)
			return SBX_ENOMEM;
		if (id == NULL)
			continue;
		v = realloc(out->volume_ids, (out->nvolumes + 1) *
		    sizeof(*v));
		if (v == NULL) {
			free(id);
			return SBX_ENOMEM;
		}
		out->volume_ids = v;
		out->volume_ids[out->nvolumes++] = id;
	}
	return SBX_OK;
}

enum sbx_err
sbx_ec2_parse_instance(const char *xml, size_t len,
    struct sbx_ec2_instance *out)
{
	xmlDoc *doc = NULL;
	xmlNode *root, *inst;
	enum sbx_err err;

	memset(out, 0, sizeof(*out));
	if ((err = sbx_awsxml_open(xml, len, "DescribeInstancesResponse",
	    &doc, &root)) != SBX_OK)
		return err;
	inst = first_item(first_item(root, "reservationSet"), "instancesSet");
	if (inst == NULL) {
		err = SBX_ENOTFOUND;
		goto out;
	}
	err = SBX_ENOMEM;
	if (sbx_awsxml_text(inst, "instanceId", &out->instance_id) != 0 ||
	    sbx_awsxml_text(inst, "instanceType", &out->instance_type) != 0 ||
	    sbx_awsxml_text(inst, "platform", &out->platform) != 0 ||
	    sbx_awsxml_text(sbx_awsxml_child(inst, "placement"), "tenancy",
	    &out->tenancy) != 0 ||
	    sbx_awsxml_text(sbx_awsxml_child(inst, "instanceState"), "name",
	    &out->state) != 0)
		goto out;
	if ((err = read_volumes(inst, out)) != SBX_OK)
		goto out;
	err = out->instance_id != NULL && out->instance_type != NULL &&
	    out->instance_type[0] != '\0' ? SBX_OK : SBX_EPARSE;
out:
	if (err != SBX_OK)
		sbx_ec2_instance_fini(out);
	xmlFreeDoc(doc);
	return err;
}

enum sbx_err
sbx_ec2_parse_volume(const char *xml, size_t len, struct sbx_ec2_volume *out)
{
	xmlDoc *doc = NULL;
	xmlNode *root, *vol;
	char *size = NULL, *end;
	enum sbx_err err;

	memset(out, 0, sizeof(*out));
	if ((err = sbx_awsxml_open(xml, len, "DescribeVolumesResponse", &doc,
	    &root)) != SBX_OK)
		return err;
	if ((vol = first_item(root, "volumeSet")) == NULL) {
		err = SBX_ENOTFOUND;
		goto out;
	}
	err = SBX_ENOMEM;
	if (sbx_awsxml_text(vol, "volumeId", &out->volume_id) != 0 ||
	    sbx_awsxml_text(vol, "volumeType", &out->volume_type) != 0 ||
	    sbx_awsxml_text(vol, "status", &out->state) != 0 ||
	    sbx_awsxml_text(vol, "size", &size) != 0)
		goto out;
	err = SBX_EPARSE;
	if (out->volume_id == NULL || out->volume_type == NULL ||
	    size == NULL)
		goto out;
	errno = 0;
	out->size_gib = strtol(size, &end, 10);
	if (errno != 0 || end == size || *end != '\0' || out->size_gib < 0)
		goto out;
	err = SBX_OK;
out:
	free(size);
	if (err != SBX_OK)
		sbx_ec2_volume_fini(out);
	xmlFreeDoc(doc);
	return err;
}

/* One call: Action, Version and one id parameter. */
static enum sbx_err
call(const char *action, const char *id_param, const char *id,
    struct sbx_httpclient_response *resp, struct sbx_aws_error *e)
{
	struct sbx_aws_param p[3] = {
		{ "Action", action },
		{ "Version", SBX_EC2_VERSION },
		{ id_param, id },
	};
	struct sbx_awsapi_req r = { 0 };
	struct sbx_aws_error dummy;
	char *body = NULL;
	enum sbx_err err;

	if (e == NULL)
		e = &dummy;
	if (id == NULL || id[0] == '\0')
		return SBX_EINVAL;
	if ((err = sbx_aws_canonical_query(p, 3, &body)) != SBX_OK)
		return err;
	r.service = "ec2";
	r.content_type = CONTENT_TYPE;
	r.accept = "text/xml";
	r.body = body;
	r.body_len = strlen(body);
	r.what = action;
	r.parse_error = sbx_ec2_parse_error;
	err = sbx_awsapi_call(&r, resp, e);
	if (err == SBX_EREMOTE && strstr(e->code, ".NotFound") != NULL)
		err = SBX_ENOTFOUND;
	free(body);
	return err;
}

enum sbx_err
sbx_ec2_describe_instance(const char *instance_id,
    struct sbx_ec2_instance *out, struct sbx_aws_error *e)
{
	struct sbx_httpclient_response resp = { 0 };
	enum sbx_err err;

	memset(out, 0, sizeof(*out));
	err = call("DescribeInstances", "InstanceId.1", instance_id, &resp, e);
	if (err == SBX_OK)
		err = sbx_ec2_parse_instance(resp.body, resp.body_len, out);
	sbx_httpclient_response_fini(&resp);
	return err;
}

enum sbx_err
sbx_ec2_describe_volume(const char *volume_id, struct sbx_ec2_volume *out,
    struct sbx_aws_error *e)
{
	struct sbx_httpclient_response resp = { 0 };
	enum sbx_err err;

	memset(out, 0, sizeof(*out));
	err = call("DescribeVolumes", "VolumeId.1", volume_id, &resp, e);
	if (err == SBX_OK)
		err = sbx_ec2_parse_volume(resp.body, resp.body_len, out);
	sbx_httpclient_response_fini(&resp);
	return err;
}
