// Host-test environment for the portable cores: EXO_ASSERT failures throw AssertionFailure so a
// test can check that an invariant violation is caught (REQUIRE_THROWS_AS).
#pragma once

#include <stdexcept>
#include <string>

namespace exo::test {

struct AssertionFailure : std::logic_error {
    using std::logic_error::logic_error;
};

} // namespace exo::test
