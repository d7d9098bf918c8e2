/* web-text.c - the page texts of omamori-web, one table per language.
 *
 * Words a person reads on a phone, often after a digest told them mail was
 * held back: short, plain, no jargon ("quarantine" is 隔離, "release" is
 * 受信箱に戻す).  Texts are plain text; pages HTML-escape them.
 */
#include "web-text.h"

#include <string.h>

static const char *const web_text_ja[WT_COUNT] = {
	[WT_BAD_LINK_TITLE] = "このリンクは無効です",
	[WT_BAD_LINK_BODY] = "リンクが途中で切れているか、書き換えられています。"
		"お知らせメールのリンクをもう一度開くか、ログインしてください。",
	[WT_EXPIRED_TITLE] = "このリンクは有効期限が切れています",
	[WT_EXPIRED_BODY] = "新しいリンクは次のお知らせメールでお送りします。"
		"今すぐ確認するには、ログインしてください。",
	[WT_NOT_FOUND_TITLE] = "ページが見つかりません",
	[WT_NOT_FOUND_BODY] = "アドレスをご確認ください。",
	[WT_METHOD_TITLE] = "この操作はできません",
	[WT_BAD_REQUEST_TITLE] = "リクエストが正しくありません",
	[WT_BAD_REQUEST_BODY] = "ページを開き直してから、もう一度操作してください。",
	[WT_RATE_TITLE] = "アクセスが集中しています",
	[WT_RATE_BODY] = "しばらく待ってから、もう一度お試しください。",
	[WT_CSRF_TITLE] = "このフォームは使えません",
	[WT_CSRF_BODY] = "このフォームは既に送信されたか、古くなっています。"
		"ページを開き直してから、もう一度操作してください。",
	[WT_ERROR_TITLE] = "ただいま処理できません",
	[WT_ERROR_BODY] = "しばらくしてから、もう一度お試しください。"
		"繰り返し表示される場合は、サポート窓口にお問い合わせください。",
	[WT_LOGIN_LINK] = "ログインする",
	[WT_SUPPORT] = "お問い合わせ：",
	[WT_MAIL_TITLE] = "隔離されたメール",
	[WT_ENVELOPE_SENDER] = "送信元（エンベロープ）",
	[WT_FROM] = "差出人",
	[WT_SUBJECT] = "件名",
	[WT_RECEIVED] = "受信日時",
	[WT_SCORE] = "迷惑メールスコア",
	[WT_REASONS] = "隔離された理由",
	[WT_NO_SUBJECT] = "（件名なし）",
	[WT_NULL_SENDER] = "（なし：エラー通知などのメール）",
	[WT_MAIL_INTRO] = "このメールは、安全のため受信箱に届けずに隔離しています。"
		"心当たりのあるメールなら、受信箱に戻せます。",
	[WT_OP_RELEASE] = "受信箱に戻す",
	[WT_OP_ALLOW] = "差出人を許可して戻す",
	[WT_OP_DELETE] = "削除",
	[WT_DONE_TITLE] = "完了しました",
	[WT_DONE_RELEASE] = "メールを受信箱に戻しました。",
	[WT_DONE_ALLOW] = "メールを受信箱に戻し、差出人を許可リストに追加しました。",
	[WT_DONE_DELETE] = "メールを削除しました。",
	[WT_DONE_NOT_ALLOWED] = "メールを受信箱に戻しました。ただし、差出人は許可リストに"
		"追加できませんでした（リストが上限に達しているか、許可リストを使えない設定です）。",
	[WT_GONE_TITLE] = "このメールはもう隔離されていません",
	[WT_GONE_BODY] = "既に受信箱に戻されたか、削除されたか、保存期間が過ぎています。",
	[WT_BOX_TITLE] = "隔離されたメールの一覧",
	[WT_BOX_INTRO] = "迷惑メールやウイルスの疑いがあるため、受信箱に届けずに隔離したメールです。"
		"必要なメールは受信箱に戻せます。",
	[WT_BOX_EMPTY] = "隔離されたメールはありません。",
	[WT_TO_BOX] = "隔離されたメールの一覧へ",
	[WT_TO_ME] = "設定（許可・拒否リスト、お知らせメール）",
	[WT_MAILBOX] = "メールアドレス",
	[WT_LOGIN_FOR_SETTINGS] = "設定を変更するには、メールのパスワードでログインしてください。",
	[WT_ME_TITLE] = "設定",
	[WT_ALLOW_LIST] = "許可リスト",
	[WT_ALLOW_HELP] = "ここに登録した送信者からのメールは、迷惑メールとして扱いません。",
	[WT_BLOCK_LIST] = "拒否リスト",
	[WT_BLOCK_HELP] = "ここに登録した送信者からのメールは受け取りません。",
	[WT_LIST_EMPTY] = "（登録なし）",
	[WT_ENTRY_HINT] = "メールアドレス、または @ドメイン",
	[WT_ADD] = "追加",
	[WT_REMOVE] = "削除",
	[WT_LISTS_LOCKED] = "リストは管理者のみが変更できる設定です。",
	[WT_ALLOW_OFF] = "このドメインでは、許可リストを使えません。",
	[WT_ENTRY_INVALID] = "メールアドレス（user@example.jp）か、@ドメイン（@example.jp）の"
		"形で入力してください。",
	[WT_LIST_FULL] = "リストが上限に達しています。不要な登録を削除してから追加してください。",
	[WT_NOT_ON_LIST] = "その登録はリストにありません。変更はありません。",
	[WT_DIGEST] = "隔離のお知らせメール",
	[WT_DIGEST_HELP] = "隔離されたメールがあるとき、一覧をメールでお知らせします。",
	[WT_DIGEST_DAILY] = "毎日、次の時刻に",
	[WT_DIGEST_EVERY_PRE] = "",
	[WT_DIGEST_EVERY_POST] = "時間ごとに",
	[WT_DIGEST_OFF] = "送らない",
	[WT_DIGEST_INVALID] = "時刻は 00:00〜23:59、間隔は 1〜24 時間で指定してください。",
	[WT_SAVE] = "保存",
	[WT_KNOWN] = "やりとりのある相手からのメールが隔離されたら、すぐにお知らせする",
	[WT_ON] = "オン",
	[WT_OFF] = "オフ",
	[WT_TURN_ON] = "オンにする",
	[WT_TURN_OFF] = "オフにする",
	[WT_FEATURES] = "保護機能",
	[WT_FEATURE_INBOUND] = "受信メールのウイルスチェック",
	[WT_FEATURE_SPAM] = "迷惑メールフィルター",
	[WT_FEATURE_OUTBOUND] = "送信メールのウイルスチェック",
	[WT_STATE_ON] = "有効",
	[WT_STATE_PAUSED] = "一時停止中",
	[WT_PAUSE] = "一時停止する",
	[WT_RESUME] = "再開する",
	[WT_SAVED] = "変更しました。",
	[WT_NOT_YOURS] = "この設定は変更できません。",
	[WT_LOGIN_TITLE] = "ログイン",
	[WT_LOGIN_INTRO] = "メールアドレスと、メールのパスワードでログインしてください。",
	[WT_USER] = "メールアドレス",
	[WT_PASSWORD] = "パスワード",
	[WT_LOGIN_BUTTON] = "ログイン",
	[WT_LOGIN_FAILED] = "メールアドレスまたはパスワードが正しくありません。",
	[WT_LOGIN_LOCKED_TITLE] = "ログインの試行が多すぎます",
	[WT_LOGIN_LOCKED_BODY] = "このメールアドレスでは、パスワードの誤りが続いています。"
		"15 分ほど待ってから、もう一度お試しください。",
};

static const char *const web_text_en[WT_COUNT] = {
	[WT_BAD_LINK_TITLE] = "This link is not valid",
	[WT_BAD_LINK_BODY] = "The link may have been cut short or changed. Open the "
		"link in the mail again, or log in.",
	[WT_EXPIRED_TITLE] = "This link has expired",
	[WT_EXPIRED_BODY] = "The next digest will bring a new link. To look now, log in.",
	[WT_NOT_FOUND_TITLE] = "Page not found",
	[WT_NOT_FOUND_BODY] = "Please check the address.",
	[WT_METHOD_TITLE] = "This request is not allowed",
	[WT_BAD_REQUEST_TITLE] = "Bad request",
	[WT_BAD_REQUEST_BODY] = "Reload the page and try again.",
	[WT_RATE_TITLE] = "Too many requests",
	[WT_RATE_BODY] = "Please wait a minute and try again.",
	[WT_CSRF_TITLE] = "This form cannot be used",
	[WT_CSRF_BODY] = "This form was already sent, or it is too old. Reload the "
		"page and try again.",
	[WT_ERROR_TITLE] = "This cannot be done right now",
	[WT_ERROR_BODY] = "Please try again later. If this keeps happening, contact "
		"support.",
	[WT_LOGIN_LINK] = "Log in",
	[WT_SUPPORT] = "Support: ",
	[WT_MAIL_TITLE] = "Quarantined mail",
	[WT_ENVELOPE_SENDER] = "Envelope sender",
	[WT_FROM] = "From",
	[WT_SUBJECT] = "Subject",
	[WT_RECEIVED] = "Received",
	[WT_SCORE] = "Spam score",
	[WT_REASONS] = "Why it was quarantined",
	[WT_NO_SUBJECT] = "(no subject)",
	[WT_NULL_SENDER] = "(none: a delivery report or similar)",
	[WT_MAIL_INTRO] = "To keep you safe, this mail was held back instead of "
		"going to your inbox. If you expected it, you can release it.",
	[WT_OP_RELEASE] = "Release to inbox",
	[WT_OP_ALLOW] = "Release and allow this From address",
	[WT_OP_DELETE] = "Delete",
	[WT_DONE_TITLE] = "Done",
	[WT_DONE_RELEASE] = "The mail is back in your inbox.",
	[WT_DONE_ALLOW] = "The mail is back in your inbox, and its From address is on "
		"your allow list.",
	[WT_DONE_DELETE] = "The mail was deleted.",
	[WT_DONE_NOT_ALLOWED] = "The mail is back in your inbox, but its From address could "
		"not be put on your allow list (the list is full, or allow lists are "
		"turned off for your domain).",
	[WT_GONE_TITLE] = "This mail is no longer in quarantine",
	[WT_GONE_BODY] = "It was already released or deleted, or it was kept for "
		"as long as it is kept.",
	[WT_BOX_TITLE] = "Your quarantined mail",
	[WT_BOX_INTRO] = "This mail was held back because it looked like spam or "
		"may carry a virus. You can release what you need.",
	[WT_BOX_EMPTY] = "There is no mail in quarantine.",
	[WT_TO_BOX] = "All quarantined mail",
	[WT_TO_ME] = "Settings (allow and block lists, digests)",
	[WT_MAILBOX] = "Mail address",
	[WT_LOGIN_FOR_SETTINGS] = "Log in with your mail password to change settings.",
	[WT_ME_TITLE] = "Settings",
	[WT_ALLOW_LIST] = "Allow list",
	[WT_ALLOW_HELP] = "Mail from these senders is never treated as spam.",
	[WT_BLOCK_LIST] = "Block list",
	[WT_BLOCK_HELP] = "Mail from these senders is refused.",
	[WT_LIST_EMPTY] = "(none)",
	[WT_ENTRY_HINT] = "An address, or @domain",
	[WT_ADD] = "Add",
	[WT_REMOVE] = "Remove",
	[WT_LISTS_LOCKED] = "Only your provider can change these lists.",
	[WT_ALLOW_OFF] = "Allow lists are turned off for your domain.",
	[WT_ENTRY_INVALID] = "Write an address (user@example.com) or a domain "
		"(@example.com).",
	[WT_LIST_FULL] = "The list is full. Remove an entry you no longer need first.",
	[WT_NOT_ON_LIST] = "That entry is not on the list. Nothing was changed.",
	[WT_DIGEST] = "Quarantine digest",
	[WT_DIGEST_HELP] = "When mail is quarantined, a mail lists it for you.",
	[WT_DIGEST_DAILY] = "Daily at",
	[WT_DIGEST_EVERY_PRE] = "Every",
	[WT_DIGEST_EVERY_POST] = "hours",
	[WT_DIGEST_OFF] = "Never",
	[WT_DIGEST_INVALID] = "Give a time from 00:00 to 23:59, or 1 to 24 hours.",
	[WT_SAVE] = "Save",
	[WT_KNOWN] = "Tell me at once when mail from someone I have written to is "
		"quarantined",
	[WT_ON] = "On",
	[WT_OFF] = "Off",
	[WT_TURN_ON] = "Turn on",
	[WT_TURN_OFF] = "Turn off",
	[WT_FEATURES] = "Protection",
	[WT_FEATURE_INBOUND] = "Virus check of incoming mail",
	[WT_FEATURE_SPAM] = "Spam filter",
	[WT_FEATURE_OUTBOUND] = "Virus check of outgoing mail",
	[WT_STATE_ON] = "On",
	[WT_STATE_PAUSED] = "Paused",
	[WT_PAUSE] = "Pause",
	[WT_RESUME] = "Resume",
	[WT_SAVED] = "Saved.",
	[WT_NOT_YOURS] = "This setting cannot be changed here.",
	[WT_LOGIN_TITLE] = "Log in",
	[WT_LOGIN_INTRO] = "Log in with your mail address and your mail password.",
	[WT_USER] = "Mail address",
	[WT_PASSWORD] = "Password",
	[WT_LOGIN_BUTTON] = "Log in",
	[WT_LOGIN_FAILED] = "The mail address or the password is not right.",
	[WT_LOGIN_LOCKED_TITLE] = "Too many attempts",
	[WT_LOGIN_LOCKED_BODY] = "There have been too many wrong passwords for this "
		"address. Please wait about 15 minutes and try again.",
};

const char *web_text(const char *lang, enum web_text id)
{
	const char *const *table = lang != NULL && strcmp(lang, "ja") == 0 ?
		web_text_ja : web_text_en;

	if ((unsigned int)id >= WT_COUNT || table[id] == NULL)
		return "";
	return table[id];
}
