/* mime.c - MIME walking and rewriting for the scanner, on GMime 3.
 *
 * GMime is used because it is the field's MIME library: it decodes transfer
 * encodings, RFC 2047/2231 file names and charsets (ISO-2022-JP, Shift_JIS,
 * EUC-JP through iconv) and re-serialises a changed tree while writing the
 * parts nobody touched from their original bytes.
 */
#include "mail/mime.h"

#include <gmime/gmime.h>
#include <iconv.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A text part's text and (an HTML part) its document, made once. */
struct om_mime_text_cache {
	GMimeObject *part;
	char *text;		/* g_mime_text_part_get_text's, NULL: none */
	htmlDocPtr doc;		/* NULL: not parsed (yet) or none */
	int html_done;
	void *memo;		/* om_mime_part_memo_set's, NULL: none */
	void (*memo_free)(void *memo);
};

struct om_mime_msg {
	GMimeMessage *message;
	struct om_mime_text_cache *texts;
	size_t text_count, text_cap;
};

/* The charsets whose glibc converters stay loaded for the process's life
   (om_mime_pin_charsets): those of most mail, Japanese first. */
static const char *const om_mime_pinned_charsets[] = {
	"ISO-2022-JP", "SHIFT_JIS", "CP932", "EUC-JP",
	"ISO-8859-1", "ISO-8859-2", "ISO-8859-15", "CP1250", "CP1251", "CP1252",
	"CP1254", "KOI8-R", "GB2312", "GBK", "GB18030", "BIG5", "EUC-KR", "CP949",
};
#define OM_MIME_PINNED_MAX (sizeof(om_mime_pinned_charsets) / sizeof(om_mime_pinned_charsets[0]))

struct om_mime_init_state {
	pthread_once_t once;
	/* open for the process's life, never used: see om_mime_pin_charsets */
	iconv_t pinned[OM_MIME_PINNED_MAX];
};

static struct om_mime_init_state om_mime_init = { PTHREAD_ONCE_INIT, { 0 } };

/* glibc loads a charset's converter (a gconv module) at iconv_open and
   unloads it once no descriptor has used it for a few closes, so GMime's
   open-convert-close of every text part made each part of an ISO-8859-1
   or ISO-2022-JP mail map and unmap a shared object: 4 % of scand's time
   under load (issue 22).  One descriptor held open per common charset
   keeps its module loaded.  A charset this libc lacks is skipped: it only
   costs what it cost before. */
static void om_mime_pin_charsets(struct om_mime_init_state *init)
{
	size_t i;

	for (i = 0; i < OM_MIME_PINNED_MAX; i++)
		init->pinned[i] = iconv_open("UTF-8", om_mime_pinned_charsets[i]);
}

static void om_mime_do_init(void)
{
	g_mime_init();
	om_mime_pin_charsets(&om_mime_init);
}

void om_mime_global_init(void)
{
	(void)pthread_once(&om_mime_init.once, om_mime_do_init);
}

struct om_mime_msg *om_mime_parse(const char *data, size_t len,
				  char **error_r)
{
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *message;
	struct om_mime_msg *msg;

	om_mime_global_init();
	stream = g_mime_stream_mem_new_with_buffer(data, len);
	parser = g_mime_parser_new_with_stream(stream);
	g_object_unref(stream);
	message = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	if (message == NULL) {
		*error_r = om_strdup("not a parseable RFC 5322 message");
		return NULL;
	}
	msg = om_calloc(1, sizeof(*msg));
	msg->message = message;
	return msg;
}

void om_mime_changed(struct om_mime_msg *msg)
{
	size_t i;

	for (i = 0; i < msg->text_count; i++) {
		g_free(msg->texts[i].text);
		if (msg->texts[i].doc != NULL)
			xmlFreeDoc(msg->texts[i].doc);
		if (msg->texts[i].memo != NULL)
			msg->texts[i].memo_free(msg->texts[i].memo);
	}
	free(msg->texts);
	msg->texts = NULL;
	msg->text_count = msg->text_cap = 0;
}

/* part's entry in the cache, made (text decoded) on first use. */
static struct om_mime_text_cache *om_mime_text_entry(struct om_mime_msg *msg,
						     GMimeObject *part)
{
	struct om_mime_text_cache *c;
	size_t i;

	for (i = 0; i < msg->text_count; i++) {
		if (msg->texts[i].part == part)
			return &msg->texts[i];
	}
	if (msg->text_count == msg->text_cap) {
		msg->text_cap = msg->text_cap == 0 ? 8 : msg->text_cap * 2;
		msg->texts = om_realloc(msg->texts, msg->text_cap * sizeof(*msg->texts));
	}
	c = &msg->texts[msg->text_count++];
	memset(c, 0, sizeof(*c));
	c->part = part;
	c->text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
	return c;
}

const char *om_mime_part_text(struct om_mime_msg *msg, void *part)
{
	if (!GMIME_IS_TEXT_PART(part))
		return NULL;
	return om_mime_text_entry(msg, part)->text;
}

void *om_mime_part_html(struct om_mime_msg *msg, void *part)
{
	struct om_mime_text_cache *c;

	if (!GMIME_IS_TEXT_PART(part))
		return NULL;
	c = om_mime_text_entry(msg, part);
	if (!c->html_done && c->text != NULL)
		c->doc = htmlReadMemory(c->text, (int)strlen(c->text), NULL, "UTF-8",
					HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
					HTML_PARSE_NONET | HTML_PARSE_RECOVER |
					HTML_PARSE_COMPACT);
	c->html_done = 1;
	return c->doc;
}

void *om_mime_part_memo(struct om_mime_msg *msg, void *part)
{
	if (!GMIME_IS_TEXT_PART(part))
		return NULL;
	return om_mime_text_entry(msg, part)->memo;
}

int om_mime_part_memo_set(struct om_mime_msg *msg, void *part, void *memo,
			  void (*memo_free)(void *memo))
{
	struct om_mime_text_cache *c;

	if (!GMIME_IS_TEXT_PART(part))
		return -1;
	c = om_mime_text_entry(msg, part);
	if (c->memo != NULL)
		c->memo_free(c->memo);
	c->memo = memo;
	c->memo_free = memo_free;
	return 0;
}

void om_mime_free(struct om_mime_msg **msgp)
{
	struct om_mime_msg *msg = *msgp;

	if (msg == NULL)
		return;
	om_mime_changed(msg);
	g_object_unref(msg->message);
	free(msg);
	*msgp = NULL;
}

/* ---- collecting leaves ---- */

struct om_collect {
	struct om_mime_leaf *leaves;
	size_t count, cap;
	size_t objects, max_parts;
	unsigned int max_depth;
	char *reason;
};

/* Where a subtree sits: inside an attached message, the whole attached
   message is the unit an infection removes. */
struct om_collect_pos {
	unsigned int depth;
	int in_attached;
	GMimeObject *parent_mp;		/* nearest multipart */
	GMimeObject *unit;		/* set when in_attached */
	GMimeObject *unit_parent;
};

static char *om_child_path(const char *path, int index)
{
	return *path == '\0' ? om_asprintf("%d", index) :
		om_asprintf("%s.%d", path, index);
}

static int om_is_readable_text(GMimeObject *obj)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	GMimeContentDisposition *disp = g_mime_object_get_content_disposition(obj);

	if (ct == NULL || !g_mime_content_type_is_type(ct, "text", "*"))
		return 0;
	if (!g_mime_content_type_is_type(ct, "text", "plain") &&
	    !g_mime_content_type_is_type(ct, "text", "html"))
		return 0;
	if (disp != NULL && g_mime_content_disposition_is_attachment(disp))
		return 0;
	return GMIME_IS_PART(obj) && g_mime_part_get_filename(GMIME_PART(obj)) == NULL;
}

int om_mime_part_readable_text(void *part)
{
	return om_is_readable_text(part);
}

static void om_collect_leaf(struct om_collect *c, GMimeObject *obj,
			    const char *path, const struct om_collect_pos *pos)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	struct om_mime_leaf *leaf;
	const char *filename;
	char *mime_type;

	if (c->count == c->cap) {
		c->cap = c->cap == 0 ? 16 : c->cap * 2;
		c->leaves = om_realloc(c->leaves, c->cap * sizeof(*c->leaves));
	}
	leaf = &c->leaves[c->count++];
	memset(leaf, 0, sizeof(*leaf));
	leaf->path = om_strdup(*path == '\0' ? "1" : path);
	mime_type = ct != NULL ? g_mime_content_type_get_mime_type(ct) : NULL;
	leaf->content_type = om_strdup(mime_type != NULL ? mime_type : "text/plain");
	g_free(mime_type);
	filename = GMIME_IS_PART(obj) ? g_mime_part_get_filename(GMIME_PART(obj)) : NULL;
	leaf->filename = filename != NULL ? om_strdup(filename) : NULL;
	leaf->in_attached_message = pos->in_attached;
	if (GMIME_IS_PART(obj)) {
		switch (g_mime_part_get_content_encoding(GMIME_PART(obj))) {
		case GMIME_CONTENT_ENCODING_BASE64:
		case GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE:
		case GMIME_CONTENT_ENCODING_UUENCODE:
			leaf->encoded = 1;
			break;
		default:
			break;
		}
	}
	leaf->is_body = !pos->in_attached &&
		(pos->parent_mp == NULL || om_is_readable_text(obj));
	leaf->object = g_object_ref(obj);
	leaf->unit = g_object_ref(pos->in_attached ? pos->unit : obj);
	leaf->unit_parent = pos->in_attached ? pos->unit_parent : pos->parent_mp;
	if (leaf->unit_parent != NULL)
		g_object_ref(leaf->unit_parent);
}

static int om_collect_object(struct om_collect *c, GMimeObject *obj,
			     const char *path,
			     const struct om_collect_pos *pos);

static int om_collect_multipart(struct om_collect *c, GMimeMultipart *mp,
				const char *path,
				const struct om_collect_pos *pos)
{
	struct om_collect_pos child = *pos;
	int i, n = g_mime_multipart_get_count(mp), ret = 0;
	char *cpath;

	child.depth++;
	child.parent_mp = GMIME_OBJECT(mp);
	for (i = 0; i < n && ret == 0; i++) {
		cpath = om_child_path(path, i + 1);
		ret = om_collect_object(c, g_mime_multipart_get_part(mp, i),
					cpath, &child);
		free(cpath);
	}
	return ret;
}

static int om_collect_message_part(struct om_collect *c,
				   GMimeMessagePart *mpart, const char *path,
				   const struct om_collect_pos *pos)
{
	GMimeMessage *inner = g_mime_message_part_get_message(mpart);
	struct om_collect_pos child = *pos;
	GMimeObject *root;
	char *cpath;
	int ret;

	root = inner != NULL ? g_mime_message_get_mime_part(inner) : NULL;
	if (root == NULL) {
		om_collect_leaf(c, GMIME_OBJECT(mpart), path, pos);
		return 0;
	}
	child.depth++;
	if (!pos->in_attached) {
		child.in_attached = 1;
		child.unit = GMIME_OBJECT(mpart);
		child.unit_parent = pos->parent_mp;
	}
	if (GMIME_IS_MULTIPART(root))
		return om_collect_object(c, root, *path == '\0' ? "1" : path, &child);
	cpath = om_child_path(*path == '\0' ? "1" : path, 1);
	ret = om_collect_object(c, root, cpath, &child);
	free(cpath);
	return ret;
}

static int om_collect_object(struct om_collect *c, GMimeObject *obj,
			     const char *path,
			     const struct om_collect_pos *pos)
{
	if (++c->objects > c->max_parts) {
		c->reason = om_asprintf("limit: more than %zu MIME parts",
					c->max_parts);
		return 1;
	}
	if (pos->depth > c->max_depth) {
		c->reason = om_asprintf("limit: MIME nesting deeper than %u",
					c->max_depth);
		return 1;
	}
	if (GMIME_IS_MULTIPART(obj))
		return om_collect_multipart(c, GMIME_MULTIPART(obj), path, pos);
	if (GMIME_IS_MESSAGE_PART(obj))
		return om_collect_message_part(c, GMIME_MESSAGE_PART(obj), path, pos);
	om_collect_leaf(c, obj, path, pos);
	return 0;
}

int om_mime_collect(struct om_mime_msg *msg, size_t max_parts,
		    unsigned int max_depth, struct om_mime_leaf **leaves_r,
		    size_t *count_r, char **reason_r)
{
	struct om_collect c;
	struct om_collect_pos pos;
	GMimeObject *root = g_mime_message_get_mime_part(msg->message);
	int ret = 0;

	memset(&c, 0, sizeof(c));
	memset(&pos, 0, sizeof(pos));
	c.max_parts = max_parts;
	c.max_depth = max_depth;
	if (root != NULL)
		ret = om_collect_object(&c, root, "", &pos);
	if (ret != 0) {
		om_mime_leaves_free(&c.leaves, c.count);
		*reason_r = c.reason;
		return ret;
	}
	*leaves_r = c.leaves;
	*count_r = c.count;
	return 0;
}

void om_mime_leaves_free(struct om_mime_leaf **leavesp, size_t count)
{
	struct om_mime_leaf *leaves = *leavesp;
	size_t i;

	if (leaves == NULL)
		return;
	for (i = 0; i < count; i++) {
		free(leaves[i].path);
		free(leaves[i].content_type);
		free(leaves[i].filename);
		g_object_unref(leaves[i].object);
		g_object_unref(leaves[i].unit);
		if (leaves[i].unit_parent != NULL)
			g_object_unref(leaves[i].unit_parent);
	}
	free(leaves);
	*leavesp = NULL;
}

int om_mime_leaf_decode(const struct om_mime_leaf *leaf, struct om_buf *out,
			char **error_r)
{
	GMimeObject *obj = leaf->object;
	GMimeDataWrapper *content;
	GMimeStream *stream;
	GByteArray *array;

	if (!GMIME_IS_PART(obj)) {
		/* an empty message/rfc822: its raw form is all there is */
		char *text = g_mime_object_to_string(obj, NULL);

		om_buf_append_str(out, text != NULL ? text : "");
		g_free(text);
		return 0;
	}
	content = g_mime_part_get_content(GMIME_PART(obj));
	if (content == NULL)
		return 0;
	stream = g_mime_stream_mem_new();
	if (g_mime_data_wrapper_write_to_stream(content, stream) < 0) {
		g_object_unref(stream);
		*error_r = om_asprintf("part %s: cannot decode its content",
				       leaf->path);
		return -1;
	}
	array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
	om_buf_append(out, array->data, array->len);
	g_object_unref(stream);
	return 0;
}

int om_mime_remove_unit(struct om_mime_msg *msg, struct om_mime_leaf *leaf)
{
	GMimeMultipart *mp;

	om_mime_changed(msg);
	if (leaf->unit_parent == NULL)
		return 0;
	mp = GMIME_MULTIPART(leaf->unit_parent);
	if (g_mime_multipart_index_of(mp, GMIME_OBJECT(leaf->unit)) < 0)
		return 0;
	return g_mime_multipart_remove(mp, GMIME_OBJECT(leaf->unit)) ? 1 : 0;
}

/* ---- notices ---- */

static char *om_html_escape(const char *s)
{
	struct om_buf b;

	om_buf_init(&b);
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<': om_buf_append_str(&b, "&lt;"); break;
		case '>': om_buf_append_str(&b, "&gt;"); break;
		case '&': om_buf_append_str(&b, "&amp;"); break;
		case '"': om_buf_append_str(&b, "&quot;"); break;
		case '\n': om_buf_append_str(&b, "<br>\n"); break;
		default: om_buf_append(&b, s, 1);
		}
	}
	return om_buf_steal(&b, NULL);
}

/* Position just after the <body ...> tag, or 0 if there is none. */
static size_t om_html_body_start(const char *html)
{
	const char *p;

	for (p = html; (p = strchr(p, '<')) != NULL; p++) {
		if (strncasecmp(p, "<body", 5) == 0 &&
		    (p[5] == '>' || p[5] == ' ' || p[5] == '\t' ||
		     p[5] == '\r' || p[5] == '\n')) {
			p = strchr(p, '>');
			return p == NULL ? 0 : (size_t)(p + 1 - html);
		}
	}
	return 0;
}

static char *om_notice_html(const char *html, const char *notice)
{
	size_t at = om_html_body_start(html);
	char *escaped = om_html_escape(notice), *result;

	result = om_asprintf("%.*s<div class=\"omamori-notice\" style=\"border:1px "
			     "solid #c00;padding:6px;margin:0 0 8px 0\">%s</div>%s",
			     (int)at, html, escaped, html + at);
	free(escaped);
	return result;
}

static void om_notice_part(GMimeTextPart *tp, const char *notice)
{
	GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(tp));
	char *text = g_mime_text_part_get_text(tp), *changed;

	if (g_mime_content_type_is_type(ct, "text", "html"))
		changed = om_notice_html(text != NULL ? text : "", notice);
	else
		changed = om_asprintf("%s\n\n%s", notice, text != NULL ? text : "");
	g_free(text);
	g_mime_text_part_set_text(tp, changed);
	g_mime_text_part_set_charset(tp, "utf-8");
	g_mime_part_set_content_encoding(GMIME_PART(tp),
					 GMIME_CONTENT_ENCODING_BASE64);
	free(changed);
}

/* Adds the notice to the readable parts under obj; returns how many. */
static int om_notice_tree(GMimeObject *obj, int top_single, const char *notice)
{
	int i, n, done = 0;

	if (GMIME_IS_MULTIPART(obj)) {
		n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));
		for (i = 0; i < n; i++)
			done += om_notice_tree(g_mime_multipart_get_part(
				GMIME_MULTIPART(obj), i), 0, notice);
		return done;
	}
	if (GMIME_IS_TEXT_PART(obj) && (top_single || om_is_readable_text(obj))) {
		om_notice_part(GMIME_TEXT_PART(obj), notice);
		return 1;
	}
	return 0;
}

void om_mime_add_notice(struct om_mime_msg *msg, const char *notice)
{
	GMimeObject *root = g_mime_message_get_mime_part(msg->message);
	GMimeTextPart *tp;

	om_mime_changed(msg);
	if (root != NULL && om_notice_tree(root, !GMIME_IS_MULTIPART(root),
					   notice) > 0)
		return;
	tp = g_mime_text_part_new_with_subtype("plain");
	g_mime_text_part_set_text(tp, notice);
	g_mime_text_part_set_charset(tp, "utf-8");
	g_mime_part_set_content_encoding(GMIME_PART(tp),
					 GMIME_CONTENT_ENCODING_BASE64);
	if (root != NULL && GMIME_IS_MULTIPART(root))
		g_mime_multipart_insert(GMIME_MULTIPART(root), 0, GMIME_OBJECT(tp));
	g_object_unref(tp);
}

void om_mime_write(struct om_mime_msg *msg, struct om_buf *out)
{
	GMimeStream *stream = g_mime_stream_mem_new();
	GByteArray *array;

	(void)g_mime_object_write_to_stream(GMIME_OBJECT(msg->message), NULL,
					    stream);
	array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
	om_buf_append(out, array->data, array->len);
	g_object_unref(stream);
}

char *om_mime_header_decoded(struct om_mime_msg *msg, const char *name)
{
	InternetAddressList *list;
	const char *value;
	char *text, *copy;

	if (strcasecmp(name, "Subject") == 0) {
		value = g_mime_message_get_subject(msg->message);
		return value != NULL ? om_strdup(value) : NULL;
	}
	if (strcasecmp(name, "From") == 0) {
		list = g_mime_message_get_from(msg->message);
		if (list == NULL || internet_address_list_length(list) == 0)
			return NULL;
		text = internet_address_list_to_string(list, NULL, FALSE);
		copy = om_strdup(text != NULL ? text : "");
		g_free(text);
		return copy;
	}
	value = g_mime_object_get_header(GMIME_OBJECT(msg->message), name);
	return value != NULL ? om_strdup(value) : NULL;
}

int om_mime_has_header(struct om_mime_msg *msg, const char *name)
{
	if (strcasecmp(name, "Subject") == 0)
		return g_mime_message_get_subject(msg->message) != NULL;
	if (strcasecmp(name, "From") == 0) {
		InternetAddressList *list = g_mime_message_get_from(msg->message);

		return list != NULL && internet_address_list_length(list) > 0;
	}
	return g_mime_object_get_header(GMIME_OBJECT(msg->message), name) != NULL;
}

char *om_mime_header_raw(struct om_mime_msg *msg, const char *name)
{
	GMimeHeaderList *headers = g_mime_object_get_header_list(GMIME_OBJECT(msg->message));
	GMimeHeader *header = g_mime_header_list_get_header(headers, name);
	const char *raw;

	if (header == NULL)
		return NULL;
	raw = g_mime_header_get_raw_value(header);
	return om_strdup(raw != NULL ? raw : "");
}

char *om_mime_from_address(struct om_mime_msg *msg)
{
	InternetAddressList *list = g_mime_message_get_from(msg->message);
	InternetAddress *ia;
	const char *addr;

	if (list == NULL || internet_address_list_length(list) == 0)
		return NULL;
	ia = internet_address_list_get_address(list, 0);
	if (!INTERNET_ADDRESS_IS_MAILBOX(ia))
		return NULL;
	addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
	if (addr == NULL || strchr(addr, '@') == NULL)
		return NULL;
	return om_strdup(addr);
}

char *om_mime_from_name(struct om_mime_msg *msg)
{
	InternetAddressList *list = g_mime_message_get_from(msg->message);
	const char *name;

	if (list == NULL || internet_address_list_length(list) == 0)
		return NULL;
	name = internet_address_get_name(internet_address_list_get_address(list, 0));
	return name != NULL && *name != '\0' ? om_strdup(name) : NULL;
}

int om_mime_date_valid(struct om_mime_msg *msg)
{
	return g_mime_message_get_date(msg->message) != NULL;
}

int om_mime_date_skew(struct om_mime_msg *msg, long *seconds_r)
{
	GDateTime *sent = g_mime_message_get_date(msg->message), *received;
	const char *hop = g_mime_object_get_header(GMIME_OBJECT(msg->message), "Received");
	const char *when = hop != NULL ? strrchr(hop, ';') : NULL;

	if (sent == NULL || when == NULL)
		return -1;
	received = g_mime_utils_header_decode_date(when + 1);
	if (received == NULL)
		return -1;
	*seconds_r = (long)(g_date_time_difference(sent, received) / G_TIME_SPAN_SECOND);
	g_date_time_unref(received);
	return 0;
}

unsigned int om_mime_recipient_count(struct om_mime_msg *msg)
{
	InternetAddressList *to = g_mime_message_get_to(msg->message);
	InternetAddressList *cc = g_mime_message_get_cc(msg->message);

	return (unsigned int)((to != NULL ? internet_address_list_length(to) : 0) +
			      (cc != NULL ? internet_address_list_length(cc) : 0));
}

int om_mime_body_is_html_only(struct om_mime_msg *msg)
{
	GMimeObject *body = g_mime_message_get_mime_part(msg->message);
	GMimeContentType *ct;

	if (body == NULL)
		return 0;
	ct = g_mime_object_get_content_type(body);
	return ct != NULL && g_mime_content_type_is_type(ct, "text", "html");
}

void om_mime_foreach_part(struct om_mime_msg *msg,
			  void (*fn)(void *parent, void *part, void *data),
			  void *data)
{
	g_mime_message_foreach(msg->message, (GMimeObjectForeachFunc)(void (*)(void))fn, data);
}

/* Every top-level header, or those called name (NULL: all); a value is
   decoded only for a header passed on. */
static void om_mime_each_header(struct om_mime_msg *msg, const char *name,
				void (*fn)(void *context, const char *name,
					   const char *value),
				void *context)
{
	GMimeHeaderList *headers = g_mime_object_get_header_list(GMIME_OBJECT(msg->message));
	GMimeHeader *header;
	const char *header_name;
	int i, n = g_mime_header_list_get_count(headers);

	for (i = 0; i < n; i++) {
		header = g_mime_header_list_get_header_at(headers, i);
		header_name = g_mime_header_get_name(header);
		if (name != NULL && (header_name == NULL ||
				     g_ascii_strcasecmp(header_name, name) != 0))
			continue;
		fn(context, header_name, g_mime_header_get_value(header));
	}
}

void om_mime_foreach_header(struct om_mime_msg *msg,
			    void (*fn)(void *context, const char *name,
				       const char *value),
			    void *context)
{
	om_mime_each_header(msg, NULL, fn, context);
}

void om_mime_foreach_header_named(struct om_mime_msg *msg, const char *name,
				  void (*fn)(void *context, const char *name,
					     const char *value),
				  void *context)
{
	om_mime_each_header(msg, name, fn, context);
}

void om_mime_build_text_mail(const char *from, const char *to,
			     const char *subject, const char *body,
			     struct om_buf *out)
{
	const char *at = strrchr(from, '@');
	struct om_mime_msg msg;
	GMimeMessage *message;
	GMimeTextPart *tp;
	GDateTime *now;
	char *msgid;

	om_mime_global_init();
	message = g_mime_message_new(TRUE);
	tp = g_mime_text_part_new_with_subtype("plain");
	now = g_date_time_new_now_local();
	msgid = g_mime_utils_generate_message_id(at != NULL ? at + 1 : "localhost");
	msg.message = message;
	g_mime_message_add_mailbox(message, GMIME_ADDRESS_TYPE_FROM, "", from);
	g_mime_message_add_mailbox(message, GMIME_ADDRESS_TYPE_TO, "", to);
	g_mime_message_set_subject(message, subject, "utf-8");
	g_mime_message_set_date(message, now);
	g_mime_message_set_message_id(message, msgid);
	g_mime_text_part_set_text(tp, body);
	g_mime_text_part_set_charset(tp, "utf-8");
	g_mime_part_set_content_encoding(GMIME_PART(tp),
					 GMIME_CONTENT_ENCODING_BASE64);
	g_mime_message_set_mime_part(message, GMIME_OBJECT(tp));
	om_mime_write(&msg, out);
	g_object_unref(tp);
	g_date_time_unref(now);
	g_free(msgid);
	g_object_unref(message);
}

/* ---- attachments out, one attachment in (outbound-zip) ---- */

static int om_mime_is_type(GMimeObject *obj, const char *type, const char *subtype)
{
	GMimeContentType *ct = obj != NULL ? g_mime_object_get_content_type(obj) : NULL;

	return ct != NULL && g_mime_content_type_is_type(ct, type, subtype);
}

/* An attachment: not the readable body, and named or marked attachment;
   an image the HTML shows (Content-ID inside multipart/related, inline)
   stays where it is. */
static int om_mime_is_attachment(const struct om_mime_leaf *leaf)
{
	GMimeObject *obj = leaf->object;
	GMimeContentDisposition *disp = g_mime_object_get_content_disposition(obj);
	int attachment = disp != NULL && g_mime_content_disposition_is_attachment(disp);

	if (leaf->is_body || leaf->unit_parent == NULL)
		return 0;
	if (leaf->in_attached_message)
		return 1;
	if (!attachment && leaf->filename == NULL)
		return 0;
	if (!attachment && g_mime_object_get_content_id(obj) != NULL &&
	    om_mime_is_type(GMIME_OBJECT(leaf->unit_parent), "multipart", "related"))
		return 0;
	return 1;
}

/* The bytes of an attached message (message/rfc822 part), as sent. */
static void om_mime_message_part_bytes(GMimeObject *unit, struct om_buf *out)
{
	GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(unit));
	GMimeStream *stream = g_mime_stream_mem_new();
	GByteArray *array;

	if (inner != NULL)
		(void)g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, stream);
	array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(stream));
	om_buf_append(out, array->data, array->len);
	g_object_unref(stream);
}

void om_mime_unit_message(const struct om_mime_leaf *leaf, struct om_buf *out,
			  char **name_r)
{
	GMimeObject *unit = leaf->unit;
	const char *name;

	*name_r = NULL;
	if (!leaf->in_attached_message || unit == NULL || !GMIME_IS_MESSAGE_PART(unit))
		return;
	om_mime_message_part_bytes(unit, out);
	name = g_mime_object_get_content_disposition_parameter(unit, "filename");
	if (name == NULL)
		name = g_mime_object_get_content_type_parameter(unit, "name");
	*name_r = om_strdup(name != NULL && *name != '\0' ? name : "message.eml");
}

void om_mime_attachments_free(struct om_mime_attachment **listp, size_t count)
{
	struct om_mime_attachment *list = *listp;
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < count; i++) {
		free(list[i].filename);
		free(list[i].content_type);
		om_buf_free(&list[i].data);
	}
	free(list);
	*listp = NULL;
}

int om_mime_take_attachments(struct om_mime_msg *msg, size_t max_parts,
			     unsigned int max_depth,
			     struct om_mime_attachment **list_r, size_t *count_r,
			     const char **skip_r, char **error_r)
{
	struct om_mime_leaf *leaves = NULL;
	struct om_mime_attachment *list = NULL, *a;
	size_t count = 0, n = 0, i;
	char *reason = NULL;
	int ret;

	om_mime_changed(msg);
	*list_r = NULL;
	*count_r = 0;
	*skip_r = NULL;
	ret = om_mime_collect(msg, max_parts, max_depth, &leaves, &count, &reason);
	if (ret != 0) {
		*error_r = reason != NULL ? reason : om_strdup("cannot walk the MIME tree");
		return -1;
	}
	for (i = 0; i < count; i++) {
		/* a signature covers the parts: taking one breaks it */
		if (leaves[i].unit_parent != NULL &&
		    (om_mime_is_type(GMIME_OBJECT(leaves[i].unit_parent), "multipart", "signed") ||
		     om_mime_is_type(GMIME_OBJECT(leaves[i].unit_parent), "multipart", "encrypted"))) {
			*skip_r = "a signed or encrypted message (S/MIME, PGP)";
			om_mime_leaves_free(&leaves, count);
			return 0;
		}
	}
	list = om_calloc(count > 0 ? count : 1, sizeof(*list));
	for (i = 0; i < count; i++) {
		if (!om_mime_is_attachment(&leaves[i]))
			continue;
		a = &list[n];
		om_buf_init(&a->data);
		if (leaves[i].in_attached_message) {
			/* the whole attached message, once */
			if (g_mime_multipart_index_of(GMIME_MULTIPART(leaves[i].unit_parent),
						      GMIME_OBJECT(leaves[i].unit)) < 0)
				continue;
			om_mime_message_part_bytes(GMIME_OBJECT(leaves[i].unit), &a->data);
			a->filename = om_strdup("message.eml");
			a->content_type = om_strdup("message/rfc822");
		} else {
			if (om_mime_leaf_decode(&leaves[i], &a->data, error_r) < 0) {
				om_buf_free(&a->data);
				om_mime_attachments_free(&list, n);
				om_mime_leaves_free(&leaves, count);
				return -1;
			}
			a->filename = leaves[i].filename != NULL ?
				om_strdup(leaves[i].filename) : NULL;
			a->content_type = om_strdup(leaves[i].content_type);
		}
		(void)om_mime_remove_unit(msg, &leaves[i]);
		n++;
	}
	om_mime_leaves_free(&leaves, count);
	if (n == 0) {
		free(list);
		return 0;
	}
	*list_r = list;
	*count_r = n;
	return 0;
}

void om_mime_add_attachment(struct om_mime_msg *msg, const char *filename,
			    const char *type, const char *subtype,
			    const void *data, size_t len)
{
	GMimeObject *root = g_mime_message_get_mime_part(msg->message);
	GMimeMultipart *mixed;
	GMimePart *part;
	GMimeStream *stream;
	GMimeDataWrapper *content;

	om_mime_changed(msg);
	part = g_mime_part_new_with_type(type, subtype);
	stream = g_mime_stream_mem_new_with_buffer(data, len);
	content = g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, content);
	g_object_unref(content);
	g_object_unref(stream);
	g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
	g_mime_object_set_disposition(GMIME_OBJECT(part), GMIME_DISPOSITION_ATTACHMENT);
	g_mime_part_set_filename(part, filename);
	if (root != NULL && om_mime_is_type(root, "multipart", "mixed")) {
		g_mime_multipart_add(GMIME_MULTIPART(root), GMIME_OBJECT(part));
	} else {
		mixed = g_mime_multipart_new_with_subtype("mixed");
		if (root != NULL)
			g_mime_multipart_add(mixed, root);
		g_mime_multipart_add(mixed, GMIME_OBJECT(part));
		g_mime_message_set_mime_part(msg->message, GMIME_OBJECT(mixed));
		g_object_unref(mixed);
	}
	g_object_unref(part);
}
