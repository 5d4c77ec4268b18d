// The host implementation of exo::assert_failed: throw, so Catch2 reports it (or a test expects
// it).
#include "support.hpp"

#include <exo/assert.hpp>

namespace exo {

void assert_failed(const char* file, int line, const char* expr, const char* msg) {
    throw test::AssertionFailure(std::string(file) + ":" + std::to_string(line) + ": assertion `" +
                                 expr + "` failed: " + msg);
}

} // namespace exo
