// libexomalloc.so (native): the allocator core (exo/alloc) as a drop-in malloc for Linux
// programs, LD_PRELOAD=.../libexomalloc.so. One heap in static, constant-initialized storage
// over mmap (no allocation and no constructor before the first malloc); one thread cache per
// thread in initial-exec TLS, flushed by a pthread key destructor when the thread exits; every
// lock taken around fork() so the child's heap is consistent.
#include "mmap_pages.hpp"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

using namespace exo::alloc;

namespace {

constinit MmapPages g_pages;
constinit HostHeap g_heap;
constinit std::atomic<int> g_state{0}; // 0 new, 1 initializing, 2 ready
constinit pthread_key_t g_key = 0;
constinit thread_local HostCache t_cache [[gnu::tls_model("initial-exec")]];

void write_all(const char* s) {
    size_t n = strlen(s);
    while (n) {
        ssize_t w = write(2, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= static_cast<size_t>(w);
    }
}

// Host policy: a misuse of the heap ends the process with a clear message.
void fatal(void*, HeapError error, const void* pointer) {
    char hex[19] = "0x";
    uintptr_t a = reinterpret_cast<uintptr_t>(pointer);
    for (int i = 0; i < 16; ++i)
        hex[2 + i] = "0123456789abcdef"[(a >> (60 - 4 * i)) & 15];
    write_all("exomalloc: ");
    write_all(heap_error_name(error));
    write_all(" at ");
    write_all(hex);
    write_all("\n");
    abort();
}

void thread_exit(void* cache) {
    static_cast<HostCache*>(cache)->retire();
}

void init_heap() {
    int expected = 0;
    if (g_state.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
        uint64_t secret = reinterpret_cast<uintptr_t>(&g_heap) * 0x9E3779B97F4A7C15ull;
        if (auto* random = reinterpret_cast<const uint64_t*>(getauxval(AT_RANDOM)))
            secret ^= random[0] ^ random[1];
        g_heap.init(&g_pages, secret, &fatal, nullptr);
        pthread_key_create(&g_key, &thread_exit); // no allocation in glibc
        g_state.store(2, std::memory_order_release);
        return;
    }
    while (g_state.load(std::memory_order_acquire) != 2)
        sched_yield();
}

[[gnu::noinline]] HostCache& attach_thread() {
    if (g_state.load(std::memory_order_acquire) != 2)
        init_heap();
    t_cache.attach(&g_heap);
    pthread_setspecific(g_key, &t_cache); // the key is below 32: no allocation
    return t_cache;
}

inline HostCache& cache() {
    if (!t_cache.attached()) [[unlikely]]
        return attach_thread();
    return t_cache;
}

// glibc gives 16-byte alignment; classes above 8 B that are multiples of 16 keep it (their
// spans start on a page), so sizes above 8 round up to 16.
inline size_t round16(size_t size) {
    return size <= 8 ? size : (size + 15) & ~size_t{15};
}

inline void* no_memory() {
    errno = ENOMEM;
    return nullptr;
}

void* aligned(size_t align, size_t size) {
    if (size > (size_t{1} << 46))
        return no_memory();
    void* p = cache().allocate_aligned(align < 16 ? 16 : align, round16(size));
    return p ? p : no_memory();
}

[[gnu::constructor]] void register_fork_handlers() {
    cache(); // initialize before fork handlers can run
    pthread_atfork([] { g_heap.lock_all(); }, [] { g_heap.unlock_all(); },
                   [] { g_heap.unlock_all(); });
}

} // namespace

extern "C" {

[[gnu::visibility("default")]] void* malloc(size_t size) {
    if (size > (size_t{1} << 46)) [[unlikely]]
        return no_memory();
    void* p = cache().allocate(round16(size));
    return p ? p : no_memory();
}

[[gnu::visibility("default")]] void free(void* pointer) {
    if (pointer)
        cache().free(pointer);
}

[[gnu::visibility("default")]] void cfree(void* pointer) {
    free(pointer);
}

[[gnu::visibility("default")]] void* calloc(size_t count, size_t size) {
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes) || bytes > (size_t{1} << 46))
        return no_memory();
    void* p = cache().allocate_zeroed(1, round16(bytes));
    return p ? p : no_memory();
}

[[gnu::visibility("default")]] void* realloc(void* pointer, size_t size) {
    if (pointer && size == 0) { // glibc: frees and returns NULL
        free(pointer);
        return nullptr;
    }
    if (size > (size_t{1} << 46))
        return no_memory();
    void* p = cache().reallocate(pointer, round16(size));
    return p ? p : no_memory();
}

[[gnu::visibility("default")]] void* reallocarray(void* pointer, size_t count, size_t size) {
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes))
        return no_memory();
    return realloc(pointer, bytes);
}

[[gnu::visibility("default")]] void* aligned_alloc(size_t align, size_t size) {
    if (align == 0 || (align & (align - 1))) {
        errno = EINVAL;
        return nullptr;
    }
    return aligned(align, size);
}

[[gnu::visibility("default")]] void* memalign(size_t align, size_t size) {
    if (align == 0 || (align & (align - 1))) {
        errno = EINVAL;
        return nullptr;
    }
    return aligned(align, size);
}

[[gnu::visibility("default")]] int posix_memalign(void** out, size_t align, size_t size) {
    if (align < sizeof(void*) || (align & (align - 1)))
        return EINVAL;
    void* p = aligned(align, size);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

[[gnu::visibility("default")]] void* valloc(size_t size) {
    return aligned(kPageSize, size);
}

[[gnu::visibility("default")]] void* pvalloc(size_t size) {
    if (size > (size_t{1} << 46))
        return no_memory();
    return aligned(kPageSize, (size + kPageSize - 1) & ~(kPageSize - 1));
}

[[gnu::visibility("default")]] size_t malloc_usable_size(void* pointer) {
    return pointer ? cache().usable_size(pointer) : 0;
}

} // extern "C"

// EXO_ASSERT inside the core's headers (Result): end the process with the message.
namespace exo {
[[noreturn]] void assert_failed(const char*, int, const char* expr, const char* msg) {
    write_all("exomalloc: assertion failed: ");
    write_all(expr);
    write_all(": ");
    write_all(msg);
    write_all("\n");
    abort();
}
} // namespace exo
