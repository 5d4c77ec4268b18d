#include "workload.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace alloc_bench {

long status_kib(const char* field) {
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            break;
        len += size_t(n);
    }
    close(fd);
    buf[len] = '\0';
    size_t flen = std::strlen(field);
    for (char* line = buf; *line != '\0';) {
        char* end = std::strchr(line, '\n');
        if (std::strncmp(line, field, flen) == 0 && line[flen] == ':')
            return std::strtol(line + flen + 1, nullptr, 10);
        if (end == nullptr)
            break;
        line = end + 1;
    }
    return -1;
}

bool pin_to_nth_cpu(int index) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        return false;
    int seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (!CPU_ISSET(cpu, &allowed))
            continue;
        if (seen++ == index) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            return pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
        }
    }
    return false;
}

} // namespace alloc_bench
