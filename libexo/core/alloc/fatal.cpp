// Names of the heap errors the allocator core detects (libexo, portable).
#include <exo/alloc/fatal.hpp>

namespace exo::alloc {

const char* heap_error_name(HeapError error) {
    switch (error) {
    case HeapError::DoubleFree:
        return "double free";
    case HeapError::ForeignPointer:
        return "free of a pointer this heap does not own";
    case HeapError::InteriorPointer:
        return "free of a pointer into the middle of an object";
    case HeapError::CorruptLink:
        return "corrupted free-list link (write after free)";
    }
    return "unknown heap error";
}

} // namespace exo::alloc
