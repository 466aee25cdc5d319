/*
 * Reading the XML answers of the AWS Query APIs (CloudFormation, EC2):
 * libxml2 with no DTD, no entities and no network, and the few walks
 * every reader needs. Defined in awsapi.c; only the io layer's clients
 * include this (libxml2 stays in io).
 */
#ifndef SBX_AWSXML_H
#define SBX_AWSXML_H

#include <stddef.h>

#include <libxml/tree.h>

#include "common/core/err.h"
#include "common/io/awsapi.h"

/*
 * XML answers: parses xml (no DTD, no entities, no network; a document
 * with a DTD is refused) and checks that the root element is root_name.
 * *doc is the caller's (xmlFreeDoc). SBX_EPARSE otherwise.
 */
enum sbx_err sbx_awsxml_open(const char *xml, size_t len,
    const char *root_name, xmlDoc **doc, xmlNode **root);
/* The first child element of n named name (namespaces ignored), or NULL. */
xmlNode *sbx_awsxml_child(xmlNode *n, const char *name);
/* The next sibling element of n with n's name, or NULL. */
xmlNode *sbx_awsxml_next(xmlNode *n);
/*
 * The text of n's child element name, a copy in *out (caller frees; NULL
 * when absent). -1 only when out of memory.
 */
int sbx_awsxml_text(xmlNode *n, const char *name, char **out);
/*
 * An error answer's <Error> element (er; NULL is fine) read into e: its
 * Code and Message. SBX_EPARSE when it has no Code.
 */
enum sbx_err sbx_awsxml_error(xmlNode *er, struct sbx_aws_error *e);
/*
 * A whole error answer read into e: root element root_name, then set
 * (NULL: none; EC2's "Errors"), then <Error>. SBX_EPARSE when it is not
 * one.
 */
enum sbx_err sbx_awsxml_parse_error(const char *xml, size_t len,
    const char *root_name, const char *set, struct sbx_aws_error *e);

#endif
