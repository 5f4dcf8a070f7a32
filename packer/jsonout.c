/*
 * jsonout.c - JSON string escaping (hpk_jsonout.h).
 */
#include "hpk_jsonout.h"
#include "../layout/hpk_layout.h"

#include <string.h>

void hpk_json_strn(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        int esc;
        size_t u = hpk_layout_text_unit(s + i, n - i, &esc);
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c == '\n') fputs("\\n", f);
        else if (c == '\t') fputs("\\t", f);
        else if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
        else if (c >= 0x80 && u == 1) fprintf(f, "\\udc%02x", c); /* not UTF-8 */
        else fwrite(s + i, 1, u, f);
        i += u;
    }
    fputc('"', f);
}

void hpk_json_str(FILE *f, const char *s)
{
    hpk_json_strn(f, s, strlen(s));
}
