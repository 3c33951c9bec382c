/* worker_pool — counting lines, words and bytes as `LC_ALL=C wc`.
 *
 * A line is a '\n'. A word is a run of characters between white space
 * (space, \t, \n, \v, \f, \r) that contains at least one printable ASCII
 * character: GNU wc in the C locale lets other bytes neither start nor end
 * a word. */
#include "worker_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

void wp_count_bytes(wp_counts *c, int *in_word, const unsigned char *buf, size_t n) {
    int w = *in_word;
    c->bytes += (uint64_t)n;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = buf[i];
        switch (ch) {
        case '\n':
            c->lines++;
            /* fall through */
        case ' ':
        case '\t':
        case '\v':
        case '\f':
        case '\r':
            c->words += (uint64_t)w;
            w = 0;
            break;
        default:
            if (ch > ' ' && ch < 0x7f)
                w = 1;
            break;
        }
    }
    *in_word = w;
}

int wp_count_file(const char *path, unsigned char *buf, size_t bufsize, wp_counts *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno;
    wp_counts c = {0};
    int in_word = 0;
    for (;;) {
        ssize_t n = read(fd, buf, bufsize);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return e;
        }
        if (n == 0)
            break;
        wp_count_bytes(&c, &in_word, buf, (size_t)n);
    }
    c.words += (uint64_t)in_word;
    close(fd);
    *out = c;
    return 0;
}
