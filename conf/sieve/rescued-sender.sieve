# rescued-sender.sieve - imapsieve example shipped with omamori: when a user
# moves a message out of the Quarantine folder, its sender goes on the
# user's allow list (vnd.omamori; the per-mailbox limit and the domain's
# user-allow-lists switch apply, and the extension adds nothing while the
# domain has learn-allow-sender off).  dovecot.conf (doc/sieve.md):
#
#   protocol imap { mail_plugins = $mail_plugins omamori imap_sieve }
#   plugin {
#     sieve_plugins = sieve_omamori sieve_imapsieve
#     sieve_extensions = +vnd.omamori
#     imapsieve_mailbox1_name = *
#     imapsieve_mailbox1_from = Quarantine
#     imapsieve_mailbox1_causes = COPY
#     imapsieve_mailbox1_before = file:/etc/dovecot/sieve/rescued-sender.sieve
#   }
require ["vnd.omamori", "imapsieve", "variables"];

if address :all :matches "from" "*" {
  omamori_list :add :allow "${1}";
}
