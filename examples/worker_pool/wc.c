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
        c.bytes += (uint64_t)n;
        for (ssize_t i = 0; i < n; i++) {
            unsigned char ch = buf[i];
            switch (ch) {
            case '\n':
                c.lines++;
                /* fall through */
            case ' ':
            case '\t':
            case '\v':
            case '\f':
            case '\r':
                c.words += (uint64_t)in_word;
                in_word = 0;
                break;
            default:
                if (ch > ' ' && ch < 0x7f)
                    in_word = 1;
                break;
            }
        }
    }
    c.words += (uint64_t)in_word;
    close(fd);
    *out = c;
    return 0;
}
