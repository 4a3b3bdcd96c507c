/* lex.c - splits a line of the .seq language into commands and words:
 * blanks between words, ';' between commands, '#' to the end, quotes and
 * parentheses keeping blanks, an apostrophe inside a word kept as it is. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "shell.h"

static int push_word(sh_cmd *c, const char *w, size_t len)
{
    char **v = realloc(c->argv, (size_t)(c->argc + 2) * sizeof *v);
    if (!v)
        return -1;
    c->argv = v;
    if (!(v[c->argc] = strndup(w, len)))
        return -1;
    v[++c->argc] = NULL;
    return 0;
}

void sh_cmds_free(sh_cmd *cmds, int n)
{
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < cmds[i].argc; j++)
            free(cmds[i].argv[j]);
        free(cmds[i].argv);
    }
    free(cmds);
}

/* Whether the quote character at p opens a quoted piece. An apostrophe
 * right after a letter or digit is part of the word, as in English:
 * `echo Let's look` prints Let's look; anywhere else (a word's start,
 * after '=', '/', another quote) ' and " quote. */
static int opens_quote(const char *line, const char *p)
{
    if (*p == '"')
        return 1;
    if (*p != '\'')
        return 0;
    if (p == line)
        return 1;
    unsigned char prev = (unsigned char)p[-1];
    return !(isalnum(prev) || prev >= 0x80);
}

/* partial: for a line still being typed, an unfinished quote or tuple
 * ends at the end of the line instead of being an error. */
static int lex(const char *line, int partial, sh_cmd **out, int *nout, char *err, size_t errn)
{
    sh_cmd *cmds = NULL;
    int n = 0;
    size_t cap = strlen(line) + 1;
    char *word = malloc(cap);
    if (!word)
        goto oom;
    const char *p = line;
    int new_cmd = 1;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p || *p == '#')
            break;
        if (*p == ';') {
            new_cmd = 1;
            p++;
            continue;
        }
        size_t len = 0;
        int depth = 0, had_quote = 0;
        while (*p) {
            char c = *p;
            if (opens_quote(line, p)) {
                const char *end = strchr(p + 1, c);
                if (!end && partial)
                    end = p + strlen(p);
                if (!end) {
                    snprintf(err, errn, "unterminated %s quote", c == '"' ? "double" : "single");
                    goto fail;
                }
                /* inside brackets the quotes stay: a call form's string
                 * argument (separator=",") is the engine's to read */
                size_t keep = depth > 0 ? 1 : 0;
                memcpy(word + len, p + 1 - keep, (size_t)(end - p - 1) + keep);
                len += (size_t)(end - p - 1) + keep;
                if (keep && *end)
                    word[len++] = c;
                p = *end ? end + 1 : end;
                had_quote = 1;
                continue;
            }
            /* ( ), [ ] and { } keep blanks inside one word */
            if (c == '(' || c == '[' || c == '{')
                depth++;
            else if ((c == ')' || c == ']' || c == '}') && depth > 0)
                depth--;
            else if (depth == 0 && (c == ' ' || c == '\t' || c == ';' || c == '\r' || c == '\n'))
                break;
            word[len++] = c;
            p++;
        }
        if (depth > 0 && !partial) {
            snprintf(err, errn, "unbalanced parenthesis or bracket");
            goto fail;
        }
        if (len == 0 && !had_quote)
            continue;
        if (new_cmd) {
            sh_cmd *c = realloc(cmds, (size_t)(n + 1) * sizeof *c);
            if (!c)
                goto oom;
            cmds = c;
            cmds[n++] = (sh_cmd){ 0, NULL };
            new_cmd = 0;
        }
        if (push_word(&cmds[n - 1], word, len) < 0)
            goto oom;
    }
    free(word);
    *out = cmds;
    *nout = n;
    return 0;
oom:
    snprintf(err, errn, "out of memory");
fail:
    free(word);
    sh_cmds_free(cmds, n);
    return -1;
}

int sh_lex(const char *line, sh_cmd **out, int *nout, char *err, size_t errn)
{
    return lex(line, 0, out, nout, err, errn);
}

int sh_lex_partial(const char *line, sh_cmd *cmd, int *trailing)
{
    sh_cmd *cmds;
    int n;
    char err[64];
    cmd->argc = 0;
    cmd->argv = NULL;
    size_t len = strlen(line);
    *trailing = len == 0 || line[len - 1] == ' ' || line[len - 1] == '\t'
                || line[len - 1] == ';';
    if (lex(line, 1, &cmds, &n, err, sizeof err) < 0)
        return -1;
    /* the command being typed: after the last ';' outside quotes */
    int last_semi = 0, inq = 0, depth = 0;
    for (const char *p = line; *p; p++) {
        if (inq) {
            inq = *p != inq ? inq : 0;
        } else if (opens_quote(line, p)) {
            inq = *p;
        } else if (*p == '(' || *p == '[' || *p == '{') {
            depth++;
        } else if ((*p == ')' || *p == ']' || *p == '}') && depth > 0) {
            depth--;
        } else if (*p == ';' && depth == 0) {
            last_semi = 1;
        } else if (*p == '#' && depth == 0) {
            break;
        } else if (*p != ' ' && *p != '\t') {
            last_semi = 0;
        }
    }
    if (n > 0 && !last_semi) {
        *cmd = cmds[n - 1];
        cmds[n - 1] = (sh_cmd){ 0, NULL };
    }
    sh_cmds_free(cmds, n);
    return 0;
}
