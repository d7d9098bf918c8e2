/* subject.h - subject tagging ("[MEIWAKU!!] " in front of a spam's
 * Subject), in the mail layer because it writes header syntax.
 */
#ifndef OM_SUBJECT_H
#define OM_SUBJECT_H

/* The raw Subject value with tag in front (unfolded to one line), or NULL
   when it already starts with the tag or the tag is empty.  Allocated. */
char *om_subject_tag(const char *raw_subject, const char *tag);

#endif
