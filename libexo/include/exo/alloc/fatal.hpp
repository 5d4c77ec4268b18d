// What the allocator core detects in a caller's use of the heap, and the handler it reports to
// (libexo, portable). The environment decides what a detection does: the host twin writes the
// message to stderr and aborts, a guest client logs it and exits, a host test records it.
#pragma once

namespace exo::alloc {

enum class HeapError {
    DoubleFree,      // an object freed while it is already free
    ForeignPointer,  // a pointer into no span this heap owns
    InteriorPointer, // a pointer inside a live span but not at the start of an object
    CorruptLink,     // a free-list link that no longer decodes: a write after free
};

const char* heap_error_name(HeapError error);

// Called on each detection with the offending pointer. If it returns (a test handler), the core
// abandons the operation without touching its state further: the bad free is ignored, a corrupt
// free list is dropped (its objects leak).
using FatalHandler = void (*)(void* context, HeapError error, const void* pointer);

} // namespace exo::alloc
