/* ja-words.c - Japanese words for the classifier through MeCab (see
 * ja-words.h).
 *
 * Character bigrams cut every notice into the same pieces (ご確認, 確認く,
 * 認くだ ...): ham and phishing written in the same notice style then share
 * nearly all of them.  Words (確認, 口座, 凍結, 解除) are what tells them
 * apart; MeCab with Debian's IPA dictionary (mecab-ipadic-utf8, found
 * through /etc/mecabrc) finds them.  One mecab_model_t per process, shared
 * by all threads as MeCab allows; one tagger and lattice per thread (MeCab's
 * tagger is not thread-safe), kept under a pthread key and destroyed with
 * the thread.  Particles, auxiliary verbs and symbols are no tokens: they
 * occur in every Japanese mail.
 */
#include "spam/ja-words.h"

#include <mecab.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct om_ja_tagger {
	mecab_t *tagger;
	mecab_lattice_t *lattice;
};

/* the process's model (read-only once loaded) and the key of each thread's
   tagger: MeCab's own sharing rules, set up once */
static pthread_once_t om_ja_once = PTHREAD_ONCE_INIT;
static mecab_model_t *om_ja_model;
static pthread_key_t om_ja_key;
static int om_ja_key_ok;

static void om_ja_tagger_free(void *p)
{
	struct om_ja_tagger *t = p;

	if (t == NULL)
		return;
	if (t->lattice != NULL)
		mecab_lattice_destroy(t->lattice);
	if (t->tagger != NULL)
		mecab_destroy(t->tagger);
	free(t);
}

static void om_ja_model_free(void)
{
	struct om_ja_tagger *t;

	/* the main thread's tagger: threads that end free their own */
	if (om_ja_key_ok) {
		t = pthread_getspecific(om_ja_key);
		(void)pthread_setspecific(om_ja_key, NULL);
		om_ja_tagger_free(t);
	}
	if (om_ja_model != NULL)
		mecab_model_destroy(om_ja_model);
	om_ja_model = NULL;
}

static void om_ja_init(void)
{
	if (pthread_key_create(&om_ja_key, om_ja_tagger_free) != 0)
		return;
	om_ja_key_ok = 1;
	/* "" reads /etc/mecabrc: Debian's default dictionary */
	om_ja_model = mecab_model_new2("");
	if (om_ja_model != NULL && atexit(om_ja_model_free) != 0) {
		mecab_model_destroy(om_ja_model);
		om_ja_model = NULL;
	}
}

/* This thread's tagger, created on first use (NULL: no MeCab). */
static struct om_ja_tagger *om_ja_tagger(void)
{
	struct om_ja_tagger *t;

	if (pthread_once(&om_ja_once, om_ja_init) != 0 || om_ja_model == NULL)
		return NULL;
	t = pthread_getspecific(om_ja_key);
	if (t != NULL)
		return t;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->tagger = mecab_model_new_tagger(om_ja_model);
	t->lattice = mecab_model_new_lattice(om_ja_model);
	if (t->tagger == NULL || t->lattice == NULL ||
	    pthread_setspecific(om_ja_key, t) != 0) {
		om_ja_tagger_free(t);
		return NULL;
	}
	return t;
}

/* 1 for a word worth a token: not a particle (助詞), an auxiliary verb
   (助動詞) or a symbol (記号); IPA features start with the part of speech. */
static int om_ja_word_counts(const mecab_node_t *node)
{
	static const char *const skip[] = { "助詞,", "助動詞,", "記号," };
	size_t i;

	if (node->stat != MECAB_NOR_NODE && node->stat != MECAB_UNK_NODE)
		return 0;
	if (node->length == 0 || node->feature == NULL)
		return node->length > 0;
	for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++) {
		if (strncmp(node->feature, skip[i], strlen(skip[i])) == 0)
			return 0;
	}
	return 1;
}

int om_ja_words(const char *text, size_t len, om_ja_word_cb *cb, void *context)
{
	struct om_ja_tagger *t = om_ja_tagger();
	const mecab_node_t *node;

	if (t == NULL)
		return -1;
	mecab_lattice_set_sentence2(t->lattice, text, len);
	if (mecab_parse_lattice(t->tagger, t->lattice) == 0)
		return -1;
	for (node = mecab_lattice_get_bos_node(t->lattice); node != NULL; node = node->next) {
		if (om_ja_word_counts(node))
			cb(context, node->surface, node->length);
	}
	return 0;
}
