// Result<T>: a value or a non-Ok Status, and TRY() to propagate the failure (SerenityOS style).
// Freestanding: no exceptions, no allocation.
#pragma once

#include <exo/assert.hpp>
#include <exo/status.hpp>

#include <new>
#include <type_traits>
#include <utility>

namespace exo {

template <typename T>
class [[nodiscard]] Result {
public:
    Result(const T& value) : status_(Status::Ok) { new (&value_) T(value); }
    Result(T&& value) : status_(Status::Ok) { new (&value_) T(std::move(value)); }
    Result(Status status) : status_(status) {
        EXO_ASSERT(status != Status::Ok, "an Ok Result must carry a value");
    }
    Result(const Result& other) : status_(other.status_) {
        if (ok())
            new (&value_) T(other.value_);
    }
    Result(Result&& other) : status_(other.status_) {
        if (ok())
            new (&value_) T(std::move(other.value_));
    }
    Result& operator=(const Result&) = delete;
    Result& operator=(Result&&) = delete;
    ~Result() {
        if (ok())
            value_.~T();
    }

    bool ok() const { return status_ == Status::Ok; }
    Status status() const { return status_; }

    T& value() & {
        EXO_ASSERT(ok(), "value() of a failed Result");
        return value_;
    }
    const T& value() const& {
        EXO_ASSERT(ok(), "value() of a failed Result");
        return value_;
    }
    T release_value() {
        EXO_ASSERT(ok(), "release_value() of a failed Result");
        return std::move(value_);
    }

private:
    union {
        T value_;
    };
    Status status_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() : status_(Status::Ok) {}
    Result(Status status) : status_(status) {}
    bool ok() const { return status_ == Status::Ok; }
    Status status() const { return status_; }
    void release_value() {}

private:
    Status status_;
};

} // namespace exo

// Evaluates a Result-returning expression; on failure returns its Status from the enclosing
// function, otherwise yields the value. A GNU statement expression, as in SerenityOS's TRY.
#define TRY(expr)                                                                                  \
    __extension__({                                                                                \
        auto&& exo_try_result_ = (expr);                                                           \
        if (!exo_try_result_.ok())                                                                 \
            return exo_try_result_.status();                                                       \
        exo_try_result_.release_value();                                                           \
    })
