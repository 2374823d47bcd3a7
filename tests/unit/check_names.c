/*
 * check_names.c - router/names.c: every rule, its message, its edges, and
 * the explicit case folding.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "triad.h"

static void valid(const char *name)
{
	char err[TRIAD_ERRLEN] = "";
	size_t at = 99;

	ck_assert_msg(names_check(name, strlen(name), err) == 0,
	    "\"%s\": %s", name, err);
	ck_assert_int_eq(names_classify(name, strlen(name), &at), NAMES_OK);
	ck_assert_uint_eq(at, 0);
}

/* name (len bytes) breaks rule v at byte at, with message msg. */
static void invalid(const char *name, size_t len, enum names_verdict v,
    size_t at, const char *msg)
{
	char err[TRIAD_ERRLEN] = "";
	size_t got_at = 99;

	ck_assert_int_eq(names_classify(name, len, &got_at), v);
	ck_assert_uint_eq(got_at, at);
	ck_assert_int_eq(names_classify(name, len, NULL), v);
	ck_assert_int_eq(names_check(name, len, err), -1);
	ck_assert_str_eq(err, msg);
}

START_TEST(test_valid)
{
	char n[NAMES_MAXLEN + 1];

	valid("abc");
	valid("alice");
	valid("0xdeadbeef");
	valid("9lives");
	valid("a.b");
	valid("a_b-c.d");
	valid("a--");
	valid("abc.");
	valid("z_-.");
	memset(n, 'x', NAMES_MAXLEN);
	n[NAMES_MAXLEN] = '\0';
	valid(n);
}
END_TEST

START_TEST(test_length)
{
	char n[NAMES_MAXLEN + 2];

	invalid("", 0, NAMES_TOO_SHORT, 0,
	    "name is too short: 0 bytes, at least 3");
	invalid(NULL, 0, NAMES_TOO_SHORT, 0,
	    "name is too short: 0 bytes, at least 3");
	invalid("ab", 2, NAMES_TOO_SHORT, 0,
	    "name is too short: 2 bytes, at least 3");
	/* Length is checked first, whatever the bytes. */
	invalid("A!", 2, NAMES_TOO_SHORT, 0,
	    "name is too short: 2 bytes, at least 3");
	memset(n, 'x', sizeof(n));
	invalid(n, NAMES_MAXLEN + 1, NAMES_TOO_LONG, 0,
	    "name is too long: 65 bytes, at most 64");
	invalid(n, (size_t)1 << 40, NAMES_TOO_LONG, 0,
	    "name is too long: 1099511627776 bytes, at most 64");
}
END_TEST

START_TEST(test_start)
{
	invalid(".abc", 4, NAMES_BAD_START, 0,
	    "name must start with a letter or a digit: it starts with '.'");
	invalid("_abc", 4, NAMES_BAD_START, 0,
	    "name must start with a letter or a digit: it starts with '_'");
	invalid("-abc", 4, NAMES_BAD_START, 0,
	    "name must start with a letter or a digit: it starts with '-'");
	invalid(" abc", 4, NAMES_BAD_START, 0,
	    "name must start with a letter or a digit: it starts with ' '");
	invalid("\xc3\xa9t\xc3\xa9", 6, NAMES_BAD_START, 0,
	    "name must start with a letter or a digit: it starts with \\xc3");
}
END_TEST

START_TEST(test_case)
{
	invalid("Alice", 5, NAMES_UPPERCASE, 0,
	    "name must be lowercase: byte 0 is 'A'");
	invalid("aLice", 5, NAMES_UPPERCASE, 1,
	    "name must be lowercase: byte 1 is 'L'");
	invalid("alicE", 5, NAMES_UPPERCASE, 4,
	    "name must be lowercase: byte 4 is 'E'");
}
END_TEST

START_TEST(test_chars)
{
	invalid("a b", 3, NAMES_BAD_CHAR, 1,
	    "name may hold only a-z, 0-9, '.', '_' and '-': byte 1 is ' '");
	invalid("ab/c", 4, NAMES_BAD_CHAR, 2,
	    "name may hold only a-z, 0-9, '.', '_' and '-': byte 2 is '/'");
	invalid("ab\0c", 4, NAMES_BAD_CHAR, 2,
	    "name may hold only a-z, 0-9, '.', '_' and '-': byte 2 is \\x00");
	invalid("ab'c", 4, NAMES_BAD_CHAR, 2,
	    "name may hold only a-z, 0-9, '.', '_' and '-': byte 2 is \\x27");
	invalid("ab\\c", 4, NAMES_BAD_CHAR, 2,
	    "name may hold only a-z, 0-9, '.', '_' and '-': byte 2 is \\x5c");
	invalid("caf\xc3\xa9", 5, NAMES_BAD_CHAR, 3,
	    "name may hold only a-z, 0-9, '.', '_' and '-': byte 3 is \\xc3");
	invalid("tab\x7f", 4, NAMES_BAD_CHAR, 3,
	    "name may hold only a-z, 0-9, '.', '_' and '-': byte 3 is \\x7f");
	/* The first bad byte decides. */
	invalid("a+B", 3, NAMES_BAD_CHAR, 1,
	    "name may hold only a-z, 0-9, '.', '_' and '-': byte 1 is '+'");
	invalid("aB+", 3, NAMES_UPPERCASE, 1,
	    "name must be lowercase: byte 1 is 'B'");
}
END_TEST

/* Every byte value, one at a time, in the middle of a name. */
START_TEST(test_every_byte)
{
	char n[3] = { 'a', 0, 'z' };
	int ok = 0;

	for (int c = 0; c < 256; c++) {
		enum names_verdict v;

		n[1] = (char)c;
		v = names_classify(n, 3, NULL);
		if (v == NAMES_OK)
			ok++;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-')
			ck_assert_int_eq(v, NAMES_OK);
		else if (c >= 'A' && c <= 'Z')
			ck_assert_int_eq(v, NAMES_UPPERCASE);
		else
			ck_assert_int_eq(v, NAMES_BAD_CHAR);
	}
	ck_assert_int_eq(ok, 26 + 10 + 3);
}
END_TEST

START_TEST(test_normalize)
{
	char out[NAMES_BUFLEN], err[TRIAD_ERRLEN] = "", n[NAMES_MAXLEN + 1];

	ck_assert_int_eq(names_normalize("Alice.Smith", 11, out, err), 0);
	ck_assert_str_eq(out, "alice.smith");
	ck_assert_int_eq(names_normalize("bob", 3, out, err), 0);
	ck_assert_str_eq(out, "bob");
	/* Input need not be NUL-terminated. */
	ck_assert_int_eq(names_normalize("CAROLxyz", 5, out, err), 0);
	ck_assert_str_eq(out, "carol");
	memset(n, 'Q', NAMES_MAXLEN);
	ck_assert_int_eq(names_normalize(n, NAMES_MAXLEN, out, err), 0);
	ck_assert_uint_eq(strlen(out), NAMES_MAXLEN);
	ck_assert(out[0] == 'q' && out[NAMES_MAXLEN - 1] == 'q');
	/* Folding does not make a bad name good; out is left alone. */
	strcpy(out, "untouched");
	ck_assert_int_eq(names_normalize("_Bob", 4, out, err), -1);
	ck_assert_str_eq(err, "name must start with a letter or a digit: "
	    "it starts with '_'");
	ck_assert_int_eq(names_normalize("AB", 2, out, err), -1);
	ck_assert_str_eq(err, "name is too short: 2 bytes, at least 3");
	ck_assert_int_eq(names_normalize(n, NAMES_MAXLEN + 1, out, err), -1);
	ck_assert_str_eq(err, "name is too long: 65 bytes, at most 64");
	ck_assert_int_eq(names_normalize("Stra\xc3\x9f" "e", 7, out, err),
	    -1);
	ck_assert_str_eq(err, "name may hold only a-z, 0-9, '.', '_' and "
	    "'-': byte 4 is \\xc3");
	ck_assert_str_eq(out, "untouched");
}
END_TEST

static Suite *names_suite(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_valid);
	tcase_add_test(tc, test_length);
	tcase_add_test(tc, test_start);
	tcase_add_test(tc, test_case);
	tcase_add_test(tc, test_chars);
	tcase_add_test(tc, test_every_byte);
	tcase_add_test(tc, test_normalize);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(names_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
