/* The small C library subset libexo provides to ring-3 programs (freestanding, no locale, no
 * files): the mem and str functions, snprintf/vsnprintf (exo/format.hpp's conversions) and the
 * malloc family (exo/malloc.hpp: a thread cache over memsrv). */
#pragma once

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* dst, int value, size_t n);
int memcmp(const void* a, const void* b, size_t n);
void* memchr(const void* s, int c, size_t n);
size_t strlen(const char* s);
size_t strnlen(const char* s, size_t max);
int strcmp(const char* a, const char* b);
int strncmp(const char* a, const char* b, size_t n);
char* strchr(const char* s, int c);
int snprintf(char* buf, size_t cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char* buf, size_t cap, const char* fmt, va_list ap);

void* malloc(size_t size);
void free(void* pointer);
void* calloc(size_t count, size_t size);
void* realloc(void* pointer, size_t size);
void* aligned_alloc(size_t align, size_t size);
int posix_memalign(void** out, size_t align, size_t size);
size_t malloc_usable_size(void* pointer);

#ifdef __cplusplus
}
#endif
