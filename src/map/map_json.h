/*
 * Finished flow -> one JSON object per line, keyed by IPFIX element names. The set of keys is
 * a documented superset (README "JSON output") independent of any IPFIX template.
 */
#ifndef OC_MAP_JSON_H
#define OC_MAP_JSON_H

#include <stddef.h>
#include <ocellus/ocellus.h>

/* Buffer size that always holds one record. */
#define MAP_JSON_MAX 16384

/*
 * Writes @info as one JSON object followed by '\n' into @buf (@size >= MAP_JSON_MAX) and
 * returns its length. Optional fields without a value are omitted. Allocates nothing.
 */
size_t map_json_format(const oc_flow_info_t *info, char *buf, size_t size);

/*
 * Appends @len bytes of @s to @out as a JSON string body: escapes quotes, backslashes and
 * control characters and turns invalid UTF-8 into U+FFFD. Returns the bytes written, at most
 * @size (truncated at a character boundary if it does not fit).
 */
size_t map_json_escape(const char *s, size_t len, char *out, size_t size);

#endif /* OC_MAP_JSON_H */
