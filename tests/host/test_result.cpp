// Result<T>, TRY and EXO_ASSERT behave as the rest of the tree relies on.
#include "support.hpp"

#include <catch2/catch.hpp>
#include <exo/result.hpp>

using exo::Result;
using exo::Status;

namespace {

Result<int> parse_digit(char c) {
    if (c < '0' || c > '9')
        return Status::InvalidArgument;
    return c - '0';
}

Result<int> add_digits(char a, char b) {
    int x = TRY(parse_digit(a));
    int y = TRY(parse_digit(b));
    return x + y;
}

Result<void> check_even(int v) {
    if (v % 2)
        return Status::OutOfRange;
    return {};
}

Result<int> half_if_even(int v) {
    TRY(check_even(v));
    return v / 2;
}

} // namespace

TEST_CASE("Result carries a value or a status, and TRY propagates the first failure") {
    auto ok = add_digits('3', '4');
    REQUIRE(ok.ok());
    REQUIRE(ok.value() == 7);

    auto bad = add_digits('3', 'x');
    REQUIRE_FALSE(bad.ok());
    REQUIRE(bad.status() == Status::InvalidArgument);

    REQUIRE(half_if_even(8).value() == 4);
    REQUIRE(half_if_even(7).status() == Status::OutOfRange);
}

TEST_CASE("Result refuses misuse through EXO_ASSERT") {
    REQUIRE_THROWS_AS(Result<int>(Status::Ok), exo::test::AssertionFailure);
    Result<int> failed(Status::NotFound);
    REQUIRE_THROWS_AS(failed.value(), exo::test::AssertionFailure);
    REQUIRE(std::string(exo::status_name(Status::NotFound)) == "NotFound");
}
