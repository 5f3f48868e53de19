/*
 * trace_id.c
 *		Request ids, W3C trace ids and the UUIDs of tokens' claims, pure C
 *		(no backend dependency).
 *
 * A client's X-Request-Id is kept only if it is safe everywhere the id goes:
 * a response header, application_name (63 bytes, printable ASCII), a log
 * line and a Prometheus label.  A traceparent is
 * version "-" trace-id "-" parent-id "-" flags, 2, 32, 16 and 2 lowercase
 * hex digits (https://www.w3.org/TR/trace-context/): version ff and the
 * all-zero ids are invalid, version 00 has exactly these four fields, and a
 * later version may append more after a "-".
 */
#include <string.h>

#include "codec_util.h"
#include "trace_id.h"

#define TRACEPARENT_LEN 55

static const char request_id_chars[] =
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-";

bool
ta_valid_request_id(const char *s)
{
	size_t		len = s != NULL ? strlen(s) : 0;

	if (len == 0 || len > TA_REQUEST_ID_MAX)
		return false;
	return strspn(s, request_id_chars) == len;
}

/* n lowercase hex digits; *nonzero says whether one of them is not 0. */
static bool
lower_hex(const char *s, size_t n, bool *nonzero)
{
	*nonzero = false;
	for (size_t i = 0; i < n; i++)
	{
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
		*nonzero |= s[i] != '0';
	}
	return true;
}

bool
ta_traceparent_trace_id(const char *tp, char *out)
{
	size_t		len = tp != NULL ? strlen(tp) : 0;
	bool		version_nonzero;
	bool		trace_nonzero;
	bool		parent_nonzero;
	bool		flags_nonzero;

	if (len < TRACEPARENT_LEN || tp[2] != '-' || tp[35] != '-' || tp[52] != '-')
		return false;
	if (!lower_hex(tp, 2, &version_nonzero) || strncmp(tp, "ff", 2) == 0 ||
		!lower_hex(tp + 3, TA_TRACE_ID_LEN, &trace_nonzero) || !trace_nonzero ||
		!lower_hex(tp + 36, 16, &parent_nonzero) || !parent_nonzero ||
		!lower_hex(tp + 53, 2, &flags_nonzero))
		return false;
	/* Version 00 has exactly four fields; a later one may add "-..." fields. */
	if (len != TRACEPARENT_LEN && (!version_nonzero || tp[TRACEPARENT_LEN] != '-'))
		return false;
	memcpy(out, tp + 3, TA_TRACE_ID_LEN);
	out[TA_TRACE_ID_LEN] = '\0';
	return true;
}

/*
 * Each of the 16 bytes from its two digits' offsets, the dashes checked
 * once (a request parses three or four: the limiter's bucket, the caller,
 * the session); a bad digit makes its ta_hex_digit() negative, and so the OR.
 */
bool
ta_uuid_parse(const char *s, unsigned char *out)
{
	static const unsigned char at[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
	int			bad = 0;

	if (strnlen(s, 37) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')
		return false;
	for (int i = 0; i < 16; i++)
	{
		int			hi = ta_hex_digit((unsigned char) s[at[i]]);
		int			lo = ta_hex_digit((unsigned char) s[at[i] + 1]);

		bad |= hi | lo;
		out[i] = (unsigned char) (((unsigned int) hi << 4) | (unsigned int) lo);
	}
	return bad >= 0;
}
