// The program entry contract of libexo: crt0 runs the global constructors, calls
// `int exo_main(uint64_t arg)` with the argument its creator passed (the root process gets
// the address of its BootInfo), and ends the process with the returned code.
#pragma once

#include <stdint.h>

int exo_main(uint64_t arg);
