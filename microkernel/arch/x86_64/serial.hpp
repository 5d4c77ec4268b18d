// COM1 16550 UART: the kernel's console from the first line of C++ to the last panic.
#pragma once

#include <stddef.h>

namespace mk::serial {

void init();
void write(const char* s, size_t n);
void put(char c);

} // namespace mk::serial
