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

namespace exo::detail {
// TRY accepts a Result<T> or a bare Status (for calls that only report success).
inline bool try_ok(Status s) {
    return s == Status::Ok;
}
inline Status try_status(Status s) {
    return s;
}
inline void try_value(Status) {}
template <typename T>
bool try_ok(const Result<T>& r) {
    return r.ok();
}
template <typename T>
Status try_status(const Result<T>& r) {
    return r.status();
}
template <typename T>
T try_value(Result<T>& r) {
    return r.release_value();
}
} // namespace exo::detail

// Evaluates a Result- or Status-returning expression; on failure returns its Status from the
// enclosing function, otherwise yields the value. A GNU statement expression, as in
// SerenityOS's TRY.
#define TRY(expr)                                                                                  \
    __extension__({                                                                                \
        auto&& exo_try_result_ = (expr);                                                           \
        if (!::exo::detail::try_ok(exo_try_result_))                                               \
            return ::exo::detail::try_status(exo_try_result_);                                     \
        ::exo::detail::try_value(exo_try_result_);                                                 \
    })
