/* unmacro.h - a copy of an Office Open XML document without its macros
 * (issue 16, doc/attachments.md "Download with macros removed"): the
 * isolation page offers it beside a docm, xlsm, pptm (or a docx/xlsx that
 * carries a vbaProject.bin).
 *
 * The copy is the same zip without vbaProject.bin (and its signature and
 * vbaData.xml parts), without their relationships and [Content_Types].xml
 * entries, its main part's content type the macro-free one, and the name's
 * extension the macro-free one (.xlsm -> .xlsx).  An OLE document (.doc,
 * .xls with macros) cannot be cleaned: no Debian library rewrites its
 * compound file; add-ins (.xlam, .ppam) have no macro-free form.
 */
#ifndef OM_SCAN_UNMACRO_H
#define OM_SCAN_UNMACRO_H

#include <stddef.h>

#include "lib/util.h"

/* The macro-free copy of data (an OOXML zip) into out, its file name
   (allocated) into *name_r: 1; 0 when no copy can be made (not a zip, no
   macros, an add-in, a member over the limits, a broken zip); -1 with
   *error_r when writing the copy failed. */
int om_unmacro_ooxml(const char *name, const char *data, size_t len,
		     struct om_buf *out, char **name_r, char **error_r);

#endif
