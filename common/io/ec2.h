/*
 * A client for the two EC2 Query API (version 2016-11-15) calls the cost
 * estimate needs: DescribeInstances (type, platform, tenancy, state, the
 * attached EBS volumes) and DescribeVolumes (type, size), one id at a
 * time. POST / form-encoded, SigV4 service "ec2", XML answers read with
 * libxml2. Endpoint: AWS_ENDPOINT_URL_EC2, else AWS_ENDPOINT_URL, else
 * https://ec2.<region>.amazonaws.com; retries as awsapi.h says.
 *
 * Errors as awsapi.h, plus SBX_ENOTFOUND for an id EC2 does not know
 * (InvalidInstanceID.NotFound, InvalidVolume.NotFound) and SBX_EPARSE for
 * an answer we cannot read. Structs are the caller's, released with their
 * _fini (a zeroed or NULL struct is fine).
 */
#ifndef SBX_EC2_H
#define SBX_EC2_H

#include <stddef.h>

#include "common/io/awsapi.h"
#include "common/core/err.h"

#define SBX_EC2_VERSION "2016-11-15"

struct sbx_ec2_instance {
	char *instance_id;
	char *instance_type;		/* "t3.micro" */
	char *platform;			/* "windows", or NULL (Linux/UNIX) */
	char *tenancy;			/* "default", "dedicated", "host" */
	char *state;			/* "running", "terminated", ... */
	char **volume_ids;		/* the EBS volumes attached */
	size_t nvolumes;
};
void sbx_ec2_instance_fini(struct sbx_ec2_instance *i);

struct sbx_ec2_volume {
	char *volume_id;
	char *volume_type;		/* "gp3", "gp2", ... */
	long size_gib;
	char *state;			/* "in-use", "available", ... */
};
void sbx_ec2_volume_fini(struct sbx_ec2_volume *v);

/* DescribeInstances for one instance id. */
enum sbx_err sbx_ec2_describe_instance(const char *instance_id,
    struct sbx_ec2_instance *out, struct sbx_aws_error *e);

/* DescribeVolumes for one volume id. */
enum sbx_err sbx_ec2_describe_volume(const char *volume_id,
    struct sbx_ec2_volume *out, struct sbx_aws_error *e);

/*
 * The pure parsers, for the unit tests: the first instance (volume) of a
 * DescribeInstancesResponse (DescribeVolumesResponse); SBX_ENOTFOUND when
 * the answer lists none; and an EC2 error answer
 * (<Response><Errors><Error><Code>...).
 */
enum sbx_err sbx_ec2_parse_instance(const char *xml, size_t len,
    struct sbx_ec2_instance *out);
enum sbx_err sbx_ec2_parse_volume(const char *xml, size_t len,
    struct sbx_ec2_volume *out);
enum sbx_err sbx_ec2_parse_error(const char *xml, size_t len,
    struct sbx_aws_error *e);

#endif
