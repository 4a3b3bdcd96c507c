/* replay.c - replays the fuzz corpora through the harnesses' entry points,
 * without libFuzzer, as a `make check` regression test:
 *
 *   tests/fuzz_replay [CORPUS_DIR]
 *
 * CORPUS_DIR (default $srcdir/tests/fuzz/corpus) holds one folder per
 * harness (script, npy, npz, data, modelfile, tfjs, h5); every file in each is run
 * once through that harness, each in a child process. A crash, a sanitizer
 * report (in a sanitizer build, leaks included) or a failed harness check
 * (abort) fails that input and prints the end of its stderr; the
 * harnesses' normal output is discarded. Ends with "N passed, M failed";
 * exits 1 if any input failed. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "fuzz.h"

int fuzz_script(const uint8_t *data, size_t size);
int fuzz_npy(const uint8_t *data, size_t size);
int fuzz_npz(const uint8_t *data, size_t size);
int fuzz_data(const uint8_t *data, size_t size);
int fuzz_modelfile(const uint8_t *data, size_t size);
int fuzz_tfjs(const uint8_t *data, size_t size);
int fuzz_h5(const uint8_t *data, size_t size);

static const struct {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
} harnesses[] = {
    { "npy", fuzz_npy },
    { "npz", fuzz_npz },
    { "data", fuzz_data },
    { "modelfile", fuzz_modelfile },
    { "tfjs", fuzz_tfjs },
    { "h5", fuzz_h5 },
    { "script", fuzz_script },
};

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *b = NULL;
    size_t cap = 0, n = 0, k;
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            unsigned char *nb = realloc(b, cap);
            if (!nb) {
                free(b);
                fclose(f);
                return NULL;
            }
            b = nb;
        }
        k = fread(b + n, 1, cap - n, f);
        n += k;
    } while (k > 0);
    fclose(f);
    *len = n;
    return b ? b : malloc(1);
}

int main(int argc, char **argv)
{
    char dir[4096];
    const char *src = getenv("srcdir");
    if (argc > 1)
        snprintf(dir, sizeof dir, "%s", argv[1]);
    else
        snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus", src && *src ? src : ".");
    /* the harnesses find fixtures through SEQSH_SRCDIR; make it absolute,
     * since the script harness works in its own scratch folder */
    if (!getenv("SEQSH_SRCDIR")) {
        char top[4096], abs[4096];
        snprintf(top, sizeof top, "%s", src && *src ? src : ".");
        if (realpath(top, abs))
            setenv("SEQSH_SRCDIR", abs, 1);
    }
    char absdir[4096];
    if (realpath(dir, absdir))
        snprintf(dir, sizeof dir, "%s", absdir);
    setenv("OPENBLAS_NUM_THREADS", "1", 0);

    char errpath[] = "/tmp/seqsh-fuzz-replay.XXXXXX";
    int errfd = mkstemp(errpath);
    int devnull = open("/dev/null", O_WRONLY);
    if (errfd < 0 || devnull < 0) {
        perror("fuzz_replay");
        return 99;
    }
    unlink(errpath);
    long passed = 0, failed = 0;
    for (size_t h = 0; h < sizeof harnesses / sizeof harnesses[0]; h++) {
        char sub[4200];
        snprintf(sub, sizeof sub, "%s/%s", dir, harnesses[h].name);
        DIR *d = opendir(sub);
        if (!d) {
            printf("FAIL: no corpus folder %s\n", sub);
            failed++;
            continue;
        }
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 256;
                names = realloc(names, cap * sizeof *names);
                if (!names)
                    return 99;
            }
            names[n++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof *names, cmp);
        long count = 0, bad = 0;
        for (size_t i = 0; i < n; i++) {
            char path[8400];
            snprintf(path, sizeof path, "%s/%s", sub, names[i]);
            free(names[i]);
            struct stat st;
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            size_t len;
            unsigned char *buf = slurp(path, &len);
            if (!buf) {
                printf("FAIL: cannot read %s\n", path);
                bad++;
                continue;
            }
            /* each input in a child of its own: a crash, a sanitizer report
             * or a leak found at its exit fails that input alone */
            fflush(stdout);
            if (ftruncate(errfd, 0) != 0 || lseek(errfd, 0, SEEK_SET) != 0)
                return 99;
            pid_t pid = fork();
            if (pid < 0) {
                perror("fuzz_replay: fork");
                return 99;
            }
            if (pid == 0) {
                dup2(devnull, 1);
                dup2(errfd, 2);
                harnesses[h].fn(buf, len);
                exit(0);
            }
            int status;
            while (waitpid(pid, &status, 0) < 0)
                ;
            free(buf);
            count++;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                bad++;
                if (WIFSIGNALED(status))
                    printf("FAIL: %s (signal %d)\n", path, WTERMSIG(status));
                else
                    printf("FAIL: %s (exit %d)\n", path, WEXITSTATUS(status));
                /* the end of its stderr holds the report */
                off_t size = lseek(errfd, 0, SEEK_END);
                off_t from = size > 8192 ? size - 8192 : 0;
                char chunk[8192];
                ssize_t k = pread(errfd, chunk, sizeof chunk, from);
                if (k > 0)
                    fwrite(chunk, 1, (size_t)k, stdout);
                printf("\n");
            }
        }
        free(names);
        printf("%s: %ld inputs replayed, %ld failed\n", harnesses[h].name, count, bad);
        passed += count - bad;
        failed += bad;
    }
    printf("%ld passed, %ld failed\n", passed, failed);
    return failed ? 1 : 0;
}
