// Kernel objects (Zircon style): each capability names one, a `final` class with a static type
// tag; downcasts compare tags. Objects are reference-counted (lib/cap_table.hpp's CapObject):
// every capability slot and every kernel pointer that must keep one alive holds a reference.
// The last release never destroys in place: it queues the object, and reap_dead_objects()
// destroys it later in thread context with no lock held (destruction may free frames, unmap
// pages with a TLB shootdown, or release further objects).
#pragma once

#include "lib/cap_table.hpp"

#include <exo/caps.hpp>
#include <exo/result.hpp>
#include <stddef.h>
#include <stdint.h>

namespace mk {

class Memory;

class KernelObject : public CapObject {
public:
    exo::ObjectType object_type() const { return exo::ObjectType(type()); }
    // The quota this object's kernel memory is charged to (null for boot-time objects).
    Memory* quota() const { return quota_; }

    KernelObject(const KernelObject&) = delete;
    KernelObject& operator=(const KernelObject&) = delete;

protected:
    explicit KernelObject(exo::ObjectType type) : CapObject(uint16_t(type)) {}
    virtual ~KernelObject() = default;
    // Releases what the object holds besides its own memory (frames, mappings, references).
    // Runs once, in thread context, with no lock held.
    virtual void destroy_contents() {}

private:
    void last_reference_dropped() final;
    friend void reap_dead_objects();
    template <typename T, typename... Args>
    friend exo::Result<T*> allocate_object(Memory* quota, Args&&... args);

    void attach_quota(Memory* quota, uint32_t size, uint32_t charge);

    Memory* quota_ = nullptr; // holds a reference to it
    uint32_t size_ = 0;       // sizeof the final type, for the heap
    uint32_t charge_ = 0;     // bytes charged to quota_
    KernelObject* dead_next_ = nullptr;
};

// A counted reference. Copying retains, destruction releases.
template <typename T>
class Ref {
public:
    Ref() = default;
    explicit Ref(T* object) : object_(object) {
        if (object_)
            object_->retain();
    }
    Ref(const Ref& other) : Ref(other.object_) {}
    // Takes over a reference the caller already holds.
    static Ref adopt(T* object) {
        Ref r;
        r.object_ = object;
        return r;
    }
    Ref(Ref&& other) : object_(other.object_) { other.object_ = nullptr; }
    template <typename U>
    Ref(Ref<U>&& other) : object_(other.leak()) {}
    Ref& operator=(Ref other) {
        T* old = object_;
        object_ = other.object_;
        other.object_ = old;
        return *this;
    }
    ~Ref() { reset(); }

    void reset() {
        if (object_)
            object_->release();
        object_ = nullptr;
    }
    // Gives up the reference without releasing it.
    T* leak() {
        T* o = object_;
        object_ = nullptr;
        return o;
    }
    T* get() const { return object_; }
    T* operator->() const { return object_; }
    T& operator*() const { return *object_; }
    explicit operator bool() const { return object_ != nullptr; }

private:
    T* object_ = nullptr;
};

// allocate_object<T>(quota, args...) charges `sizeof(T)` (rounded up to 64 bytes) to `quota`
// (unless null), then constructs T on the kernel heap. NoMemory when the quota or the heap is
// exhausted; nothing is left charged. The object starts with no reference: wrap it in a Ref.
exo::Result<void> charge_object(Memory* quota, size_t bytes);
void uncharge_object(Memory* quota, size_t bytes);
void* allocate_object_memory(size_t bytes);

template <typename T, typename... Args>
exo::Result<T*> allocate_object(Memory* quota, Args&&... args) {
    static_assert(sizeof(T) <= 2048, "kernel objects come from the heap's size classes");
    constexpr size_t kCharge = (sizeof(T) + 63) & ~size_t(63);
    TRY(charge_object(quota, kCharge));
    void* memory = allocate_object_memory(sizeof(T));
    if (memory == nullptr) {
        uncharge_object(quota, kCharge);
        return exo::Status::NoMemory;
    }
    T* object = new (memory) T(static_cast<Args&&>(args)...);
    object->attach_quota(quota, sizeof(T), kCharge);
    return object;
}

// Destroys every object whose last reference is gone, including those that this destruction
// releases in turn. Thread context, interrupts enabled, no lock held.
void reap_dead_objects();
// Objects alive (diagnostics and tests).
uint64_t live_object_count();

// The object if it has type T, else null.
template <typename T>
T* downcast(KernelObject* object) {
    return object && object->object_type() == T::kType ? static_cast<T*>(object) : nullptr;
}

} // namespace mk
