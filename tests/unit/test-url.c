/* test-url.c - the URL normaliser, registrable domains, lookup keys,
 * entries and the feed readers (shared/url/), one table row per rule.
 * Uses the system's Public Suffix List, as omamori does.
 */
#include "tap.h"
#include "url/url.h"
#include "url/feed.h"
#include "lib/util.h"

#include <string.h>

struct norm_case {
	const char *label, *in, *want;	/* want: the key, or NULL: an error */
	const char *error;		/* part of the error, when want is NULL */
};

static const struct norm_case norm_cases[] = {
	/* scheme and host case */
	{ "scheme lower case", "HTTP://example.com/", "http://example.com/", NULL },
	{ "host lower case", "http://WWW.Example.COM/Path", "http://www.example.com/Path", NULL },
	{ "path case kept", "https://example.com/A/b", "https://example.com/A/b", NULL },
	{ "mixed scheme", "HtTpS://a.example/", "https://a.example/", NULL },
	/* empty path, default ports */
	{ "empty path is /", "http://example.com", "http://example.com/", NULL },
	{ "empty path before query", "http://example.com?a=1", "http://example.com/?a=1", NULL },
	{ "port 80 of http removed", "http://example.com:80/x", "http://example.com/x", NULL },
	{ "port 443 of https removed", "https://example.com:443/x", "https://example.com/x", NULL },
	{ "port 443 of http kept", "http://example.com:443/x", "http://example.com:443/x", NULL },
	{ "port 80 of https kept", "https://example.com:80/", "https://example.com:80/", NULL },
	{ "other port kept", "http://example.com:8080/", "http://example.com:8080/", NULL },
	{ "leading zeros of a port", "http://example.com:0080/", "http://example.com/", NULL },
	{ "empty port", "http://example.com:/x", "http://example.com/x", NULL },
	{ "port too big", "http://example.com:65536/", NULL, "port over 65535" },
	{ "port not a number", "http://example.com:8o/", NULL, "port is not a number" },
	/* trailing dots */
	{ "trailing dot", "http://example.com./", "http://example.com/", NULL },
	{ "trailing dots", "http://example.com.../", "http://example.com/", NULL },
	{ "only dots", "http://.../", NULL, "empty host" },
	/* user information */
	{ "userinfo dropped", "http://user:pw@example.com/", "http://example.com/", NULL },
	{ "the last @ ends userinfo", "http://bank.example@x@evil.example/",
	  "http://evil.example/", NULL },
	{ "@ after the path is no userinfo", "http://example.com/a@b", "http://example.com/a@b", NULL },
	/* percent-encoding */
	{ "unreserved escapes decoded", "http://example.com/%7Euser/%41%62%2d",
	  "http://example.com/~user/Ab-", NULL },
	{ "reserved escapes upper case", "http://example.com/a%2fb%3a", "http://example.com/a%2Fb%3A", NULL },
	{ "space escaped", "http://example.com/a b", "http://example.com/a%20b", NULL },
	{ "space escape kept", "http://example.com/a%20b", "http://example.com/a%20b", NULL },
	{ "lone percent", "http://example.com/100%", "http://example.com/100%25", NULL },
	{ "bad escape", "http://example.com/%zz", "http://example.com/%25zz", NULL },
	{ "UTF-8 path escaped", "http://example.com/\xe6\x97\xa5", "http://example.com/%E6%97%A5", NULL },
	{ "escaped UTF-8 upper case", "http://example.com/%e6%97%a5", "http://example.com/%E6%97%A5", NULL },
	{ "query escapes", "http://example.com/?q=%7e%2b+x y", "http://example.com/?q=~%2B+x%20y", NULL },
	{ "quote escaped", "http://example.com/\"<>", "http://example.com/%22%3C%3E", NULL },
	{ "escaped host", "http://ex%61mple.com/", "http://example.com/", NULL },
	{ "escaped dot in host", "http://example%2Ecom/", "http://example.com/", NULL },
	/* dot segments */
	{ "dot segment", "http://example.com/a/./b", "http://example.com/a/b", NULL },
	{ "dot-dot segment", "http://example.com/a/b/../c", "http://example.com/a/c", NULL },
	{ "dot-dot above the root", "http://example.com/../../a", "http://example.com/a", NULL },
	{ "escaped dot-dot", "http://example.com/a/%2e%2E/b", "http://example.com/b", NULL },
	{ "trailing dot-dot", "http://example.com/a/b/..", "http://example.com/a/", NULL },
	{ "trailing slash kept", "http://example.com/a/", "http://example.com/a/", NULL },
	/* query and fragment */
	{ "fragment dropped", "http://example.com/a#top", "http://example.com/a", NULL },
	{ "empty query dropped", "http://example.com/a?", "http://example.com/a", NULL },
	{ "query kept", "http://example.com/a?b=1&c=2#f", "http://example.com/a?b=1&c=2", NULL },
	{ "? in query kept", "http://example.com/?a?b", "http://example.com/?a?b", NULL },
	/* what browsers are lenient about */
	{ "backslashes as slashes", "http:\\\\example.com\\a\\b", "http://example.com/a/b", NULL },
	{ "backslash ends the host", "http://evil.example\\@good.example/", "http://evil.example/@good.example/", NULL },
	{ "one slash", "http:/example.com/x", "http://example.com/x", NULL },
	{ "three slashes", "https:///example.com/x", "https://example.com/x", NULL },
	{ "tabs and line ends dropped", "ht\ttp://exa\nmple.com/a\r\nb", "http://example.com/ab", NULL },
	{ "spaces around trimmed", "  http://example.com/  ", "http://example.com/", NULL },
	{ "underscore in host", "http://ev_il.example/", "http://ev_il.example/", NULL },
	/* IDN */
	{ "Japanese host to punycode", "http://\xe4\xbe\x8b\xe3\x81\x88.jp/", "http://xn--r8jz45g.jp/", NULL },
	{ "Japanese TLD", "http://\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88/",
	  "http://xn--r8jz45g.xn--zckzah/", NULL },
	{ "escaped UTF-8 host", "http://%E4%BE%8B%E3%81%88.jp/", "http://xn--r8jz45g.jp/", NULL },
	{ "punycode host as it is", "http://XN--R8JZ45G.jp/", "http://xn--r8jz45g.jp/", NULL },
	{ "full-width letters mapped", "http://\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3.jp/", "http://abc.jp/", NULL },
	{ "ideographic full stop", "http://\xe4\xbe\x8b\xe3\x81\x88\xe3\x80\x82jp/", "http://xn--r8jz45g.jp/", NULL },
	{ "sharp s non-transitional", "http://fa\xc3\x9f.de/", "http://xn--fa-hia.de/", NULL },
	{ "upper-case IDN", "http://\xc3\x84pfel.de/", "http://xn--pfel-koa.de/", NULL },
	{ "invalid UTF-8 host", "http://\xff\xfe.jp/", NULL, "internationalised" },
	/* IPv4 */
	{ "dotted quad", "http://192.0.2.1/", "http://192.0.2.1/", NULL },
	{ "decimal number", "http://3221225985/", "http://192.0.2.1/", NULL },
	{ "hex number", "http://0xC0000201/", "http://192.0.2.1/", NULL },
	{ "octal parts", "http://0300.0.02.01/", "http://192.0.2.1/", NULL },
	{ "hex parts", "http://0xc0.0x0.0x2.0x1/", "http://192.0.2.1/", NULL },
	{ "two parts", "http://192.513/", "http://192.0.2.1/", NULL },
	{ "three parts", "http://192.0.513/", "http://192.0.2.1/", NULL },
	{ "IPv4 trailing dot", "http://192.0.2.1./", "http://192.0.2.1/", NULL },
	{ "leading zeros are octal", "http://010.0.0.1/", "http://8.0.0.1/", NULL },
	{ "part over 255", "http://256.0.0.1/", NULL, "IPv4" },
	{ "too many parts", "http://1.2.3.4.5/", NULL, "IPv4" },
	{ "number too big", "http://4294967296/", NULL, "IPv4" },
	{ "bad octal", "http://09.1.1.1/", NULL, "IPv4" },
	{ "number label not last", "http://1.2.3.example/", "http://1.2.3.example/", NULL },
	/* IPv6 */
	{ "IPv6 compressed", "http://[2001:DB8:0:0:0:0:0:1]/", "http://[2001:db8::1]/", NULL },
	{ "IPv6 with port", "http://[2001:db8::1]:8080/x", "http://[2001:db8::1]:8080/x", NULL },
	{ "IPv6 default port", "https://[::1]:443/", "https://[::1]/", NULL },
	{ "IPv6 not closed", "http://[2001:db8::1/", NULL, "IPv6" },
	{ "IPv6 invalid", "http://[2001:db8::g]/", NULL, "IPv6" },
	{ "IPv6 zone refused", "http://[fe80::1%25eth0]/", NULL, "IPv6" },
	/* errors */
	{ "no scheme", "example.com/x", NULL, "no scheme" },
	{ "no host", "http:///", NULL, "empty host" },
	{ "empty", "", NULL, "no scheme" },
	{ "mailto has no host", "mailto:a@example.com", NULL, "no host" },
	{ "space in host", "http://exa mple.com/", NULL, "byte 0x20 in host" },
	{ "escaped slash in host", "http://evil.example%2Fgood.example/", NULL, "'/' in host" },
	{ "escaped NUL in host", "http://evil%00.example/", NULL, "NUL" },
	{ "other scheme with host", "ftp://files.example:21/a", "ftp://files.example/a", NULL },
	{ "unknown scheme kept", "Foo+bar://Host.example/x", "foo+bar://host.example/x", NULL },
};

static void test_normalise(void)
{
	struct om_url url;
	char *error = NULL;
	size_t i;
	int ret;

	for (i = 0; i < OM_N_ELEMENTS(norm_cases); i++) {
		const struct norm_case *c = &norm_cases[i];

		ret = om_url_parse(c->in, strlen(c->in), &url, &error);
		if (c->want != NULL) {
			TAP_OK(ret == 0 && strcmp(url.key, c->want) == 0, "%s: %s (%s)",
			       c->label, c->want, ret == 0 ? url.key : error);
		} else {
			TAP_OK(ret < 0 && error != NULL && strstr(error, c->error) != NULL,
			       "%s: refused with \"%s\" (%s)", c->label, c->error,
			       ret < 0 ? error : url.key);
		}
		if (ret == 0)
			om_url_free(&url);
		om_free(&error);
	}
}

static void test_fields(void)
{
	struct om_url url;
	char *error = NULL;

	static const char full[] = "http://u:p@Example.COM:8080/a?b#c";

	TAP_OK(om_url_parse(full, strlen(full), &url, &error) == 0 &&
	       url.userinfo && url.port == 8080 && strcmp(url.host, "example.com") == 0 &&
	       strcmp(url.path, "/a") == 0 && strcmp(url.query, "b") == 0 &&
	       url.host_type == OM_URL_HOST_NAME, "fields: userinfo noted, port, host, path, query");
	om_url_free(&url);
	TAP_OK(om_url_parse("http://example.com/", 19, &url, &error) == 0 && !url.userinfo &&
	       url.query == NULL && url.port == 0, "fields: no userinfo, no query, default port");
	om_url_free(&url);
	TAP_OK(om_url_parse("http://0x7f.1/", 14, &url, &error) == 0 &&
	       url.host_type == OM_URL_HOST_IPV4 && strcmp(url.host, "127.0.0.1") == 0,
	       "fields: an IPv4 host's type");
	om_url_free(&url);
	TAP_OK(om_url_parse("http://[::1]/", 13, &url, &error) == 0 &&
	       url.host_type == OM_URL_HOST_IPV6, "fields: an IPv6 host's type");
	om_url_free(&url);
	/* the length given is what is read: a NUL inside is an error */
	TAP_OK(om_url_parse("http://a.example/\0x", 19, &url, &error) < 0 &&
	       strstr(error, "NUL") != NULL, "a NUL byte inside the length is refused");
	om_free(&error);
}

static void test_bounds(void)
{
	struct om_url url;
	char *error = NULL, *text;
	size_t n;

	/* a URL of exactly OM_URL_MAX bytes is read, one more is not */
	text = om_malloc(OM_URL_MAX + 2);
	memcpy(text, "http://example.com/", 19);
	memset(text + 19, 'a', OM_URL_MAX - 19);
	text[OM_URL_MAX] = '\0';
	TAP_OK(om_url_parse(text, OM_URL_MAX, &url, &error) == 0,
	       "a URL of %d bytes is read", OM_URL_MAX);
	om_url_free(&url);
	text[OM_URL_MAX] = 'a';
	text[OM_URL_MAX + 1] = '\0';
	TAP_OK(om_url_parse(text, OM_URL_MAX + 1, &url, &error) < 0 &&
	       strstr(error, "URL longer than 8192 bytes") != NULL,
	       "one byte more is refused, saying why (%s)", error != NULL ? error : "");
	om_free(&error);
	free(text);
	/* a host of 253 bytes, then 254 */
	text = om_malloc(300);
	memcpy(text, "http://", 7);
	for (n = 0; n < 253; n++)
		text[7 + n] = n % 2 == 0 ? 'a' : '.';
	text[7 + 253] = '/';
	text[7 + 254] = '\0';
	TAP_OK(om_url_parse(text, strlen(text), &url, &error) == 0 && strlen(url.host) == 253,
	       "a host of 253 bytes is read");
	om_url_free(&url);
	memmove(text + 8, text + 7, 256);
	text[7] = 'b';
	TAP_OK(om_url_parse(text, strlen(text), &url, &error) < 0 &&
	       strstr(error, "host longer than 253") != NULL,
	       "a host of 254 bytes is refused (%s)", error != NULL ? error : "");
	om_free(&error);
	free(text);
	/* punycode longer than the UTF-8 form: the limit is on the result */
	text = om_malloc(1000);
	strcpy(text, "http://");
	for (n = 0; n < 40; n++)
		strcat(text, "\xe4\xbe\x8b.");
	strcat(text, "jp/");
	TAP_OK(om_url_parse(text, strlen(text), &url, &error) < 0 &&
	       strstr(error, "host longer than 253") != NULL,
	       "an IDN host whose punycode is over 253 bytes is refused (%s)",
	       error != NULL ? error : "");
	om_free(&error);
	free(text);
}

struct domain_case {
	const char *host, *want;	/* want NULL: no registrable domain */
};

static const struct domain_case domain_cases[] = {
	{ "a.b.evil.example.co.jp", "example.co.jp" },
	{ "example.co.jp", "example.co.jp" },
	{ "a.example.jp", "example.jp" },
	{ "www.example.com", "example.com" },
	{ "x.blogspot.com", "x.blogspot.com" },
	{ "blogspot.com", NULL },
	{ "co.jp", NULL },
	{ "jp", NULL },
	{ "localhost", NULL },
	{ "www.xn--r8jz45g.xn--zckzah", "xn--r8jz45g.xn--zckzah" },
	{ "www.city.kawasaki.jp", "city.kawasaki.jp" },
	{ "a.b.kawasaki.jp", "a.b.kawasaki.jp" },
};

static void test_domains(const struct om_url_psl *psl)
{
	const char *got;
	size_t i;

	for (i = 0; i < OM_N_ELEMENTS(domain_cases); i++) {
		got = om_url_registrable_domain(psl, domain_cases[i].host, OM_URL_HOST_NAME);
		TAP_OK(domain_cases[i].want == NULL ? got == NULL :
		       got != NULL && strcmp(got, domain_cases[i].want) == 0,
		       "registrable domain of %s: %s (%s)", domain_cases[i].host,
		       domain_cases[i].want != NULL ? domain_cases[i].want : "none",
		       got != NULL ? got : "none");
	}
	TAP_OK(om_url_registrable_domain(psl, "192.0.2.1", OM_URL_HOST_IPV4) == NULL,
	       "an IP address has no registrable domain");
	TAP_OK(strstr(om_url_psl_source(psl), "publicsuffix") != NULL,
	       "the list is the system's (%s)", om_url_psl_source(psl));
}

static void test_keys(const struct om_url_psl *psl)
{
	static const char text[] = "http://A.B.Evil.Example.CO.JP:80/x";
	struct om_url_keys keys;
	struct om_url url;
	char *error = NULL;

	if (om_url_parse(text, strlen(text), &url, &error) < 0) {
		TAP_OK(0, "keys: parse %s: %s", text, error);
		free(error);
		return;
	}
	om_url_keys(psl, &url, &keys);
	TAP_OK(strcmp(keys.url, "http://a.b.evil.example.co.jp/x") == 0, "keys: the URL");
	TAP_OK(keys.nhosts == 4 && strcmp(keys.hosts[0], "a.b.evil.example.co.jp") == 0 &&
	       strcmp(keys.hosts[1], "b.evil.example.co.jp") == 0 &&
	       strcmp(keys.hosts[2], "evil.example.co.jp") == 0 &&
	       strcmp(keys.hosts[3], "example.co.jp") == 0,
	       "keys: the host and each name above it down to the registrable domain (%zu)",
	       keys.nhosts);
	TAP_OK(keys.domain != NULL && strcmp(keys.domain, "example.co.jp") == 0,
	       "keys: the registrable domain");
	om_url_free(&url);
	TAP_OK(om_url_parse("http://10.0.0.1/", 16, &url, &error) == 0, "keys: an IP URL");
	om_url_keys(psl, &url, &keys);
	TAP_OK(keys.nhosts == 1 && keys.domain == NULL && strcmp(keys.hosts[0], "10.0.0.1") == 0,
	       "keys: an IP host is its one host key, no domain");
	om_url_free(&url);
	TAP_OK(om_url_parse("http://localhost/", 17, &url, &error) == 0, "keys: a single label");
	om_url_keys(psl, &url, &keys);
	TAP_OK(keys.nhosts == 1 && keys.domain == NULL, "keys: a single label has no parents");
	om_url_free(&url);
}

struct entry_case {
	const char *in;
	enum om_url_kind kind;		/* NONE: refused */
	const char *want;		/* the key, or part of the error */
};

static const struct entry_case entry_cases[] = {
	{ "http://Evil.Example/Login", OM_URL_KIND_URL, "http://evil.example/Login" },
	{ "  https://evil.example  ", OM_URL_KIND_URL, "https://evil.example/" },
	{ "evil.example.co.jp", OM_URL_KIND_HOST, "evil.example.co.jp" },
	{ "Example.CO.JP.", OM_URL_KIND_DOMAIN, "example.co.jp" },
	{ "a.example.jp", OM_URL_KIND_HOST, "a.example.jp" },
	{ "\xe4\xbe\x8b\xe3\x81\x88.jp", OM_URL_KIND_DOMAIN, "xn--r8jz45g.jp" },
	{ "192.0.2.7", OM_URL_KIND_HOST, "192.0.2.7" },
	{ "co.jp", OM_URL_KIND_NONE, "public suffix" },
	{ "blogspot.com", OM_URL_KIND_NONE, "public suffix" },
	{ "evil.example/path", OM_URL_KIND_NONE, "neither a URL" },
	{ "user@evil.example", OM_URL_KIND_NONE, "neither a URL" },
	{ "", OM_URL_KIND_NONE, "empty" },
	{ "http://", OM_URL_KIND_NONE, "empty host" },
	{ "*.evil.example", OM_URL_KIND_NONE, "no wildcards: a registrable domain (evil.example)" },
	{ "a*.evil.example", OM_URL_KIND_NONE, "no wildcards" },
};

static void test_entries(const struct om_url_psl *psl)
{
	enum om_url_kind kind;
	char *key = NULL, *error = NULL;
	size_t i;
	int ret;

	for (i = 0; i < OM_N_ELEMENTS(entry_cases); i++) {
		const struct entry_case *c = &entry_cases[i];

		ret = om_url_entry(psl, c->in, strlen(c->in), &kind, &key, &error);
		if (c->kind != OM_URL_KIND_NONE)
			TAP_OK(ret == 0 && kind == c->kind && strcmp(key, c->want) == 0,
			       "entry '%s': %s %s (%s)", c->in, om_url_kind_name(c->kind),
			       c->want, ret == 0 ? key : error);
		else
			TAP_OK(ret < 0 && strstr(error, c->want) != NULL,
			       "entry '%s' refused: %s (%s)", c->in, c->want,
			       ret < 0 ? error : key);
		om_free(&key);
		om_free(&error);
	}
}

/* Every item of a feed as "LINE:kind:key" or "LINE!error", joined by
   '|'. */
static char *feed_items(const struct om_url_psl *psl, const char *data,
			enum om_feed_format format, enum om_feed_format *detected_r)
{
	struct om_feed *feed = om_feed_new(psl, data, strlen(data), format);
	struct om_feed_item item;
	struct om_buf out;

	om_buf_init(&out);
	om_buf_append_str(&out, "");
	while (om_feed_next(feed, &item) == 1) {
		if (out.len > 0)
			om_buf_append(&out, "|", 1);
		if (item.key != NULL)
			om_buf_printf(&out, "%u:%s:%s", item.line, om_url_kind_name(item.kind),
				      item.key);
		else
			om_buf_printf(&out, "%u!%s", item.line, item.error);
	}
	if (detected_r != NULL)
		*detected_r = om_feed_get_format(feed);
	om_feed_free(&feed);
	return om_buf_steal(&out, NULL);
}

static const char urlhaus[] =
	"################################################################\n"
	"# abuse.ch URLhaus Database Dump (CSV)                         #\n"
	"# Last updated: 2024-05-01 10:00:00 (UTC)                      #\n"
	"#                                                              #\n"
	"################################################################\n"
	"#\n"
	"# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"
	"\"2800001\",\"2024-05-01 09:59:01\",\"http://198.51.100.7:4711/i\",\"online\","
	"\"2024-05-01 09:59:01\",\"malware_download\",\"32-bit,elf,mips,Mozi\","
	"\"https://urlhaus.abuse.ch/url/2800001/\",\"geenensp\"\r\n"
	"\"2800002\",\"2024-05-01 09:58:00\",\"https://Evil.Example.co.jp/a,b/x.exe\",\"offline\","
	"\"\",\"malware_download\",\"exe\",\"https://urlhaus.abuse.ch/url/2800002/\",\"anon\"\n"
	"\"2800003\",\"2024-05-01 09:57:00\",\"not a url\",\"online\",\"\",\"x\",\"\",\"\",\"r\"\n"
	"\"2800004\",\"2024-05-01 09:57:00\n"
	"\"2800005\",\"2024-05-01\",\"http://ok.example/\",\"online\",\"\",\"x\",\"\",\"\",\"r\"\n";

static const char phishtank_csv[] =
	"phish_id,url,phish_detail_url,submission_time,verified,verification_time,online,target\n"
	"8500001,https://login.bank.example/auth,http://www.phishtank.com/phish_detail.php?phish_id=8500001,"
	"2024-05-01T09:00:00+00:00,yes,2024-05-01T09:10:00+00:00,yes,Other\n"
	"8500002,\"http://evil.example/a,b\",http://www.phishtank.com/phish_detail.php?phish_id=8500002,"
	"2024-05-01T09:00:00+00:00,yes,2024-05-01T09:10:00+00:00,yes,\"Bank, Inc.\"\n"
	"8500003,\"http://broken.example/\"x,y\n"
	"8500004\n";

static const char phishtank_json[] =
	"[\n"
	"{\"phish_id\":\"8500001\",\"url\":\"https:\\/\\/login.bank.example\\/auth\","
	"\"phish_detail_url\":\"http:\\/\\/www.phishtank.com\\/phish_detail.php?phish_id=8500001\","
	"\"submission_time\":\"2024-05-01T09:00:00+00:00\",\"verified\":\"yes\","
	"\"details\":[{\"ip_address\":\"192.0.2.1\",\"cidr_block\":\"192.0.2.0\\/24\"}],"
	"\"online\":\"yes\",\"target\":\"Other\"},\n"
	"{\"phish_id\":8500002,\"url\":\"http:\\/\\/\\u4f8b\\u3048.jp\\/x\",\"online\":true},\n"
	"{\"phish_id\":\"8500003\"},\n"
	"{\"url\":42},\n"
	"{\"url\":\"http://x.example/\\ud83d\\ude00\"}\n"
	"]\n";

static const char openphish[] =
	"https://login.bank.example/auth\n"
	"http://evil.example/a\n"
	"\n"
	"evil-only-host.example\n";

static const char plain_list[] =
	"# the administrator's own list\n"
	"evil.example.co.jp\n"
	"  http://a.example/x   \n"
	"0.0.0.0 ads.example # from a hosts file\n"
	"co.jp\n"
	"192.0.2.9\n";

static void test_feeds(const struct om_url_psl *psl)
{
	enum om_feed_format detected;
	enum om_feed_format f;
	char *got;

	got = feed_items(psl, urlhaus, OM_FEED_AUTO, &detected);
	TAP_OK(detected == OM_FEED_URLHAUS, "URLhaus CSV detected");
	TAP_OK(strcmp(got, "8:url:http://198.51.100.7:4711/i|"
		      "9:url:https://evil.example.co.jp/a,b/x.exe|"
		      "10!not a URL (scheme://host...)|"
		      "11!CSV: line 1: a quoted field is never closed|"
		      "12:url:http://ok.example/") == 0,
	       "URLhaus CSV: quoted fields, CRLF, a bad URL and a broken line with their "
	       "line numbers, the next line read (%s)", got);
	free(got);
	got = feed_items(psl, "\"1\",\"2024\",\"http://a.example/\"\n", OM_FEED_AUTO, &detected);
	TAP_OK(detected == OM_FEED_URLHAUS && strcmp(got, "1:url:http://a.example/") == 0,
	       "URLhaus CSV without its comments detected by the quoted id (%s)", got);
	free(got);
	got = feed_items(psl, "# id,dateadded,url,url_status,threat,tags,urlhaus_link,reporter\n"
			 "\"1\",\"2019\",\"http://old.example/\",\"online\",\"x\",\"\",\"\",\"r\"\n",
			 OM_FEED_AUTO, &detected);
	TAP_OK(strcmp(got, "2:url:http://old.example/") == 0,
	       "URLhaus CSV: the column named url in the header comment (%s)", got);
	free(got);

	got = feed_items(psl, phishtank_csv, OM_FEED_AUTO, &detected);
	TAP_OK(detected == OM_FEED_PHISHTANK_CSV, "PhishTank CSV detected");
	TAP_OK(strcmp(got, "2:url:https://login.bank.example/auth|"
		      "3:url:http://evil.example/a,b|"
		      "4!CSV: line 1: text after a closing quote|"
		      "5!1 fields, the url is field 2") == 0,
	       "PhishTank CSV: header skipped, quoted URL with a comma, bad lines (%s)", got);
	free(got);

	got = feed_items(psl, phishtank_json, OM_FEED_AUTO, &detected);
	TAP_OK(detected == OM_FEED_PHISHTANK_JSON, "PhishTank JSON detected");
	TAP_OK(strcmp(got, "2:url:https://login.bank.example/auth|"
		      "3:url:http://xn--r8jz45g.jp/x|"
		      "4!an object without \"url\"|"
		      "5!\"url\" is not a string|"
		      "6:url:http://x.example/%F0%9F%98%80") == 0,
	       "PhishTank JSON: escapes, \\u with a surrogate pair, nested values, objects "
	       "without a url (%s)", got);
	free(got);
	got = feed_items(psl, "[{\"url\":\"http://a.example/\"},\n{\"url\":\"http://b.exa", OM_FEED_AUTO,
			 NULL);
	TAP_OK(strcmp(got, "1:url:http://a.example/|2!JSON: a string is never closed") == 0,
	       "PhishTank JSON broken in its structure: what came before, then the reason (%s)",
	       got);
	free(got);
	got = feed_items(psl, "{\"url\":\"http://a.example/\"}", OM_FEED_PHISHTANK_JSON, NULL);
	TAP_OK(strcmp(got, "1!JSON: not an array of objects") == 0,
	       "PhishTank JSON that is no array (%s)", got);
	free(got);
	got = feed_items(psl, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
			 OM_FEED_PHISHTANK_JSON, NULL);
	TAP_OK(strstr(got, "!JSON:") != NULL, "deep JSON refused, not recursed into (%s)", got);
	free(got);

	got = feed_items(psl, openphish, OM_FEED_AUTO, &detected);
	TAP_OK(detected == OM_FEED_LIST, "a list with a bare host is no OpenPhish feed");
	free(got);
	got = feed_items(psl, openphish, OM_FEED_OPENPHISH, NULL);
	TAP_OK(strcmp(got, "1:url:https://login.bank.example/auth|2:url:http://evil.example/a|"
		      "4!not a URL (scheme://host...)") == 0,
	       "OpenPhish: one URL a line, blank lines skipped, a host alone is bad (%s)", got);
	free(got);
	got = feed_items(psl, "https://a.example/x\nhttp://b.example/\n", OM_FEED_AUTO, &detected);
	TAP_OK(detected == OM_FEED_OPENPHISH, "OpenPhish detected (every line a URL)");
	free(got);

	got = feed_items(psl, plain_list, OM_FEED_AUTO, &detected);
	TAP_OK(detected == OM_FEED_LIST, "a plain list detected");
	TAP_OK(strcmp(got, "2:host:evil.example.co.jp|3:url:http://a.example/x|"
		      "4:domain:ads.example|5!co.jp is a public suffix (the names under it "
		      "belong to different owners): list the hosts themselves|"
		      "6:host:192.0.2.9") == 0,
	       "plain list: hosts, URLs, a hosts file line, a public suffix refused (%s)", got);
	free(got);

	TAP_OK(om_feed_format_parse("phishtank-json", &f) == 0 && f == OM_FEED_PHISHTANK_JSON &&
	       om_feed_format_parse("csv", &f) < 0 &&
	       strcmp(om_feed_format_name(OM_FEED_URLHAUS), "urlhaus") == 0,
	       "format names");
}

int main(void)
{
	struct om_url_psl *psl;
	char *error = NULL;

	test_normalise();
	test_fields();
	test_bounds();
	psl = om_url_psl_open(&error);
	TAP_OK(psl != NULL, "the Public Suffix List loads (%s)", psl != NULL ? "" : error);
	if (psl == NULL) {
		free(error);
		return tap_done();
	}
	test_domains(psl);
	test_keys(psl);
	test_entries(psl);
	test_feeds(psl);
	om_url_psl_close(&psl);
	return tap_done();
}
