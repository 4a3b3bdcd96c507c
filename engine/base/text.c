/* text.c - what may reach a terminal. A name or a message can carry bytes
 * a terminal acts on rather than shows (ESC starts sequences that set the
 * window title or clear the screen; a carriage return overwrites what was
 * printed): names with them are refused when they are set or loaded, and
 * whatever is quoted or printed shows them as \xNN. One definition of a
 * "control character" for the engine and the shell: C0 (but tab and
 * newline where lines are kept), DEL, C1 (U+0080 to U+009F), and any byte
 * that is not part of valid UTF-8. */
#include <stdio.h>
#include <string.h>
#include "base/base.h"

/* The length of the valid UTF-8 character at s[0..n) (1 to 4), 0 when the
 * bytes there are not one; *cp gets the code point. */
static size_t utf8_char(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0], min;
    size_t k;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        k = 1, min = 0x80, c &= 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        k = 2, min = 0x800, c &= 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        k = 3, min = 0x10000, c &= 0x07;
    } else {
        return 0;
    }
    if (n < k + 1)
        return 0;
    for (size_t j = 1; j <= k; j++) {
        if ((s[j] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[j] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return k + 1;
}

size_t sq_text_span(const char *text, size_t n, int lines, size_t *bad)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < n) {
        unsigned cp;
        size_t k = utf8_char(s + i, n - i, &cp);
        if (k == 0) {
            *bad = 1;
            return i;
        }
        if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
            if (lines && (cp == '\n' || cp == '\t')) {
                i++;
                continue;
            }
            *bad = k;
            return i;
        }
        i += k;
    }
    *bad = 0;
    return n;
}

const char *sq_escape(const char *s, char *buf, size_t n)
{
    size_t len = strlen(s), out = 0, bad;
    if (n == 0)
        return buf;
    while (len > 0) {
        size_t ok = sq_text_span(s, len, 0, &bad);
        for (size_t i = 0; i < ok && out + 1 < n; i++)
            buf[out++] = s[i];
        for (size_t i = ok; i < ok + bad && out + 4 < n; i++)
            out += (size_t)snprintf(buf + out, n - out, "\\x%02x", (unsigned char)s[i]);
        if (out + 4 >= n && ok + bad < len)
            break;
        s += ok + bad;
        len -= ok + bad;
    }
    buf[out] = '\0';
    return buf;
}

int sq_check_name(const char *what, const char *name, sq_error *err)
{
    char shown[4 * SQ_NAME_MAX + 8], cut[SQ_NAME_MAX + 8];
    size_t len = strlen(name), bad;
    if (len > 0 && len < SQ_NAME_MAX && !strpbrk(name, " /:")
        && sq_text_span(name, len, 0, &bad) == len)
        return 0;
    /* a long name is cut (the message has room for its escapes) */
    snprintf(cut, sizeof cut, "%.*s%s", SQ_NAME_MAX - 1, name, len >= SQ_NAME_MAX ? "..." : "");
    return sq_fail(err, "invalid %s name '%s' (1 to %d characters of UTF-8 text, no blanks, "
                   "'/', ':' or control characters)", what, sq_escape(cut, shown, sizeof shown),
                   SQ_NAME_MAX - 1);
}
