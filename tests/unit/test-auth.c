/* test-auth.c - unit tests of auth/ar.c, the pure half of omamori's own
 * sender authentication: which Authentication-Results header's SPF result
 * scand takes for DMARC (omamori's id only, comments never read, the
 * domain checked), and which domains a header may carry.  The DNS half
 * (libspf2, libopendkim, libopendmarc through dns/) runs against a real
 * DNS server in tests/e2e/auth.py. */
#include "tap.h"
#include "auth/ar.h"
#include "lib/util.h"

#include <string.h>

static void test_read_spf(void)
{
	enum om_ar_result r = OM_AR_RESULT_NONE;
	char d[256];

	TAP_OK(om_ar_read_spf("mx.example.jp; spf=fail smtp.mailfrom=Bad.Example",
			      "mx.example.jp", &r, d, sizeof(d)) == 1 &&
	       r == OM_AR_FAIL && strcmp(d, "bad.example") == 0, "spf=fail, its domain");
	TAP_OK(om_ar_read_spf("MX.Example.JP; spf=pass smtp.mailfrom=u@a.example",
			      "mx.example.jp", &r, d, sizeof(d)) == 1 &&
	       r == OM_AR_PASS && strcmp(d, "a.example") == 0,
	       "id case-insensitive; an address's domain");
	TAP_OK(om_ar_read_spf("mx.example.jp.evil; spf=pass smtp.mailfrom=a.example",
			      "mx.example.jp", &r, d, sizeof(d)) == 0, "another id: nothing");
	TAP_OK(om_ar_read_spf("mx.example.jp; dkim=pass (spf=pass) header.d=a.example",
			      "mx.example.jp", &r, d, sizeof(d)) == 0, "a comment is never read");
	TAP_OK(om_ar_read_spf("mx.example.jp; spf=passed smtp.mailfrom=a.example",
			      "mx.example.jp", &r, d, sizeof(d)) == 0, "not a result word");
	TAP_OK(om_ar_read_spf("mx.example.jp; dkim=none; spf=temperror smtp.helo=h.example",
			      "mx.example.jp", &r, d, sizeof(d)) == 1 &&
	       r == OM_AR_TEMPERROR && strcmp(d, "h.example") == 0, "second resinfo, helo");
	TAP_OK(om_ar_read_spf("mx.example.jp; spf=pass smtp.mailfrom=a!b.example",
			      "mx.example.jp", &r, d, sizeof(d)) == 1 && d[0] == '\0',
	       "a domain a header may not carry is dropped");
	TAP_OK(om_ar_read_spf("mx.example.jp; spf=pass", "", &r, d, sizeof(d)) == 0,
	       "no trusted id: nothing");
}

static void test_domains(void)
{
	char d[64];

	TAP_OK(om_ar_domain_ok("a-b_c.example.jp") && !om_ar_domain_ok("") &&
	       !om_ar_domain_ok(".x") && !om_ar_domain_ok("a b") &&
	       !om_ar_domain_ok("a;b"), "domain tokens");
	TAP_OK(om_ar_address_domain("User@Example.JP", d, sizeof(d)) == 0 &&
	       strcmp(d, "example.jp") == 0, "address domain, lower case");
	TAP_OK(om_ar_address_domain("nodomain", d, sizeof(d)) < 0 &&
	       om_ar_address_domain("a@", d, sizeof(d)) < 0 &&
	       om_ar_address_domain("a@x(y)", d, sizeof(d)) < 0, "no usable domain");
}

int main(void)
{
	test_read_spf();
	test_domains();
	return tap_done();
}
