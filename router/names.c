/*
 * names.c - name validation for the ID service (see names.h).
 *
 * Plain byte tests, not <ctype.h>: the rule is ASCII whatever the locale.
 */
#include "names.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static int is_lower(unsigned char c)
{
	return c >= 'a' && c <= 'z';
}

static int is_upper(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

enum names_verdict names_classify(const char *name, size_t len, size_t *at)
{
	size_t dummy;

	assert(name != NULL || len == 0);
	if (at == NULL)
		at = &dummy;
	*at = 0;
	if (len < NAMES_MINLEN)
		return NAMES_TOO_SHORT;
	if (len > NAMES_MAXLEN)
		return NAMES_TOO_LONG;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		enum names_verdict v;

		if (is_lower(c) || is_digit(c))
			continue;
		if (is_upper(c))
			v = NAMES_UPPERCASE;
		else if (i == 0)
			v = NAMES_BAD_START;
		else if (c != '.' && c != '_' && c != '-')
			v = NAMES_BAD_CHAR;
		else
			continue;
		*at = i;
		return v;
	}
	return NAMES_OK;
}

/* c as it may be quoted in a message. */
static void show_byte(unsigned char c, char out[8])
{
	if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
		snprintf(out, 8, "'%c'", c);
	else
		snprintf(out, 8, "\\x%02x", c);
}

int names_check(const char *name, size_t len, char *err)
{
	char b[8];
	size_t at;

	switch (names_classify(name, len, &at)) {
	case NAMES_OK:
		return 0;
	case NAMES_TOO_SHORT:
		snprintf(err, TRIAD_ERRLEN, "name is too short: %zu bytes, at "
		    "least %d", len, NAMES_MINLEN);
		break;
	case NAMES_TOO_LONG:
		snprintf(err, TRIAD_ERRLEN, "name is too long: %zu bytes, at "
		    "most %d", len, NAMES_MAXLEN);
		break;
	case NAMES_BAD_START:
		show_byte((unsigned char)name[at], b);
		snprintf(err, TRIAD_ERRLEN, "name must start with a letter "
		    "or a digit: it starts with %s", b);
		break;
	case NAMES_UPPERCASE:
		show_byte((unsigned char)name[at], b);
		snprintf(err, TRIAD_ERRLEN, "name must be lowercase: byte "
		    "%zu is %s", at, b);
		break;
	case NAMES_BAD_CHAR:
		show_byte((unsigned char)name[at], b);
		snprintf(err, TRIAD_ERRLEN, "name may hold only a-z, 0-9, "
		    "'.', '_' and '-': byte %zu is %s", at, b);
		break;
	}
	return -1;
}

int names_normalize(const char *name, size_t len, char out[NAMES_BUFLEN],
    char *err)
{
	char tmp[NAMES_BUFLEN];

	assert(out != NULL);
	/* Length first, so that only a bounded name is copied. */
	if (len < NAMES_MINLEN || len > NAMES_MAXLEN)
		return names_check(name, len, err);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		tmp[i] = (char)(is_upper(c) ? c - 'A' + 'a' : c);
	}
	tmp[len] = '\0';
	if (names_check(tmp, len, err) == -1)
		return -1;
	memcpy(out, tmp, len + 1);
	return 0;
}
