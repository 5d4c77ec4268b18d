// The slot allocator behind Cap<T>, and the object-creating helpers of exo/cap.hpp.
#include <exo/cap.hpp>

#include <atomic>

namespace exo {
namespace {

constexpr uint32_t kWords = kRootCapSlots / 64;
// A set bit marks a slot in use; the slots below kFirstFreeSlot are the process's fixed ones.
constinit std::atomic<uint64_t> used[kWords] = {};
// The words of `used` this process's table covers: ProcessInfo::cap_slots, read once.
constinit std::atomic<uint32_t> table_words{0};

uint32_t words() {
    uint32_t n = table_words.load(std::memory_order_relaxed);
    if (n == 0) {
        ProcessInfo info{};
        n = sys::process_info(kSlotSelf, &info) == Status::Ok && info.cap_slots >= 64
                ? (info.cap_slots < kRootCapSlots ? info.cap_slots : kRootCapSlots) / 64
                : kCapSlots / 64;
        table_words.store(n, std::memory_order_relaxed);
    }
    return n;
}

template <typename T>
Result<Cap<T>> create(Status (*call)(Slot, uint64_t, Slot), Slot source, uint64_t arg) {
    Slot dst = TRY(allocate_slot());
    if (Status s = call(source, arg, dst); s != Status::Ok) {
        free_slot(dst);
        return s;
    }
    return Cap<T>::adopt(dst);
}

} // namespace

Result<Slot> allocate_slot() {
    const uint32_t n = words();
    for (uint32_t w = 0; w < n; ++w) {
        uint64_t bits = used[w].load(std::memory_order_relaxed);
        for (;;) {
            uint64_t reserved = w == 0 ? (uint64_t(1) << kFirstFreeSlot) - 1 : 0;
            uint64_t free = ~(bits | reserved);
            if (free == 0)
                break;
            uint64_t bit = free & -free;
            if (used[w].compare_exchange_weak(bits, bits | bit, std::memory_order_acq_rel))
                return Slot(w * 64 + uint32_t(__builtin_ctzll(bit)));
        }
    }
    return Status::NoMemory;
}

void free_slot(Slot slot) {
    if (slot >= kFirstFreeSlot && slot < kRootCapSlots)
        used[slot / 64].fetch_and(~(uint64_t(1) << (slot % 64)), std::memory_order_acq_rel);
}

Result<Cap<Memory>> memory_split(Slot memory, uint64_t bytes) {
    return create<Memory>(sys::memory_split, memory, bytes);
}

Result<Cap<Frame>> frame_alloc(Slot memory, uint64_t pages) {
    return create<Frame>(sys::frame_alloc, memory, pages);
}

Result<Cap<AddressSpace>> address_space_create(Slot memory) {
    Slot dst = TRY(allocate_slot());
    if (Status s = sys::address_space_create(memory, dst); s != Status::Ok) {
        free_slot(dst);
        return s;
    }
    return Cap<AddressSpace>::adopt(dst);
}

} // namespace exo
