// Root of the `user-syscalls` guest test: every syscall with valid arguments and with each
// class of bad argument (null, kernel-half, unmapped, read-only and misaligned pointers;
// lengths that overflow; slots out of range, empty, deleted or revoked; the wrong object type;
// a missing right), each checked against the exact Status the ABI documents.
#include "child_modes.hpp"
#include "expect.hpp"

#include <atomic>
#include <exo/cap.hpp>
#include <exo/channel.hpp>
#include <exo/events.hpp>
#include <exo/layout.hpp>
#include <exo/libc.h>
#include <exo/runtime.hpp>
#include <exo/spawn.hpp>
#include <exo/system.hpp>
#include <exo/wait.hpp>

using namespace exo;
using namespace exo::test;

namespace {

constexpr uint64_t kNull = 0;
constexpr uint64_t kKernel = 0xFFFFFFFF80100000ull;
constexpr uint64_t kNonCanonical = 0x0000800000000000ull;
constexpr uint64_t kUnmapped = 0x30000000;
constexpr uint64_t kMapArea = 0x50000000;       // where this test maps frames
constexpr Slot kOutOfRange = kRootCapSlots + 4; // beyond every table, the root's too
constexpr uint64_t kTimeout = 10'000'000'000;

const char kReadOnlyText[16] = "read-only";
alignas(8) uint8_t scratch[64];
const BootInfo* boot;

uint64_t ro() {
    return uint64_t(&kReadOnlyText[0]);
}
uint64_t misaligned() {
    return uint64_t(&scratch[1]);
}

// A fresh empty slot (the test never runs out: it frees what it takes).
Slot slot() {
    auto s = allocate_slot();
    return s.ok() ? s.value() : kNullSlot;
}

// A capability in a new slot, derived from `src` with `rights`.
Slot copy_of(Slot src, uint32_t rights) {
    Slot s = slot();
    EXPECT_OK(sys::cap_copy(src, s, rights));
    return s;
}

void drop(Slot s) {
    (void)sys::cap_delete(s);
    free_slot(s);
}

uint64_t after(uint64_t ns) {
    return sys::clock_ns() + ns;
}

uint64_t quota_used() {
    MemoryInfo info{};
    return sys::memory_info(kSlotMemory, &info) == Status::Ok ? info.used : ~0ull;
}

// The checks every watch makes (ProcessWatch, ThreadWatch): `target` is a live capability of
// the right type with Read, `none` the same without it, `other` a capability of another type.
// Pointers no longer apply: the end arrives as a message on the ring.
template <typename Watch>
void check_watch_arguments(Watch watch, Slot target, Slot none, Slot other) {
    auto ring = ring_create(kSlotMemory, 12);
    EXPECT_OK(ring.status());
    if (!ring.ok())
        return;
    Slot producer = ring.value().producer.slot(), consumer = ring.value().consumer.slot();
    Slot producer_ro = copy_of(producer, kRightRead), empty = slot();
    EXPECT_STATUS(watch(other, producer), Status::WrongType);
    EXPECT_STATUS(watch(target, kSlotLog), Status::WrongType);
    EXPECT_STATUS(watch(target, consumer), Status::InvalidArgument); // the kernel produces
    EXPECT_STATUS(watch(none, producer), Status::AccessDenied);
    EXPECT_STATUS(watch(target, producer_ro), Status::AccessDenied); // Write on the end
    EXPECT_STATUS(watch(none, kNullSlot), Status::AccessDenied);     // removing needs Read too
    EXPECT_STATUS(watch(kOutOfRange, producer), Status::OutOfRange);
    EXPECT_STATUS(watch(target, kOutOfRange), Status::OutOfRange);
    EXPECT_STATUS(watch(empty, producer), Status::NotFound);
    EXPECT_STATUS(watch(target, empty), Status::NotFound);
    // One watcher: a second is refused until the first is removed (kNullSlot); removing none
    // is no error.
    EXPECT_OK(watch(target, producer));
    EXPECT_STATUS(watch(target, producer), Status::BadState);
    EXPECT_OK(watch(target, kNullSlot));
    EXPECT_OK(watch(target, kNullSlot));
    EXPECT_OK(watch(target, producer));
    EXPECT_OK(watch(target, kNullSlot));
    for (Slot s : {producer_ro, empty})
        drop(s);
}

void test_basic() {
    EXPECT_OK(sys::null());
    EXPECT_OK(sys::yield());
    uint64_t t0 = sys::clock_ns(), t1 = sys::clock_ns();
    EXPECT_TRUE(t0 > 0 && t1 >= t0);
    EXPECT_STATUS(syscall(Sys::Count).status, Status::Unsupported);
    EXPECT_STATUS(syscall(Sys(1000)).status, Status::Unsupported);
}

void test_log() {
    const char text[] = "syscall-test: a log line";
    EXPECT_OK(sys::log_write(kSlotLog, text, sizeof text - 1));
    EXPECT_OK(sys::log_write(kSlotLog, text, 0));
    EXPECT_STATUS(sys::log_write(kSlotLog, reinterpret_cast<const char*>(kNull), 4),
                  Status::OutOfRange);
    EXPECT_STATUS(sys::log_write(kSlotLog, reinterpret_cast<const char*>(kKernel), 4),
                  Status::OutOfRange);
    EXPECT_STATUS(sys::log_write(kSlotLog, reinterpret_cast<const char*>(kNonCanonical), 4),
                  Status::OutOfRange);
    EXPECT_STATUS(sys::log_write(kSlotLog, reinterpret_cast<const char*>(kUnmapped), 4),
                  Status::BadAddress);
    EXPECT_STATUS(sys::log_write(kSlotLog, text, kMaxLogWrite + 1), Status::OutOfRange);
    EXPECT_STATUS(sys::log_write(kSlotLog, text, UINT64_MAX), Status::OutOfRange);
    EXPECT_STATUS(sys::log_write(kSlotLog, reinterpret_cast<const char*>(kUserTop - 2), 4),
                  Status::OutOfRange); // the range leaves user space
    EXPECT_STATUS(sys::log_write(kSlotMemory, text, 4), Status::WrongType);
    Slot read_only = copy_of(kSlotLog, kRightRead);
    EXPECT_STATUS(sys::log_write(read_only, text, 4), Status::AccessDenied);
    drop(read_only);
    EXPECT_STATUS(sys::log_write(read_only, text, 4), Status::NotFound);
    EXPECT_STATUS(sys::log_write(kOutOfRange, text, 4), Status::OutOfRange);
    EXPECT_STATUS(sys::log_write(kNullSlot, text, 4), Status::NotFound);

    // No badge makes a line pass for the kernel's or another process's: the old "RAW" badge and
    // a line that imitates the kernel's format both come out behind this process's name, and a
    // line end cannot start a line of its own (the harness checks the log).
    Slot minted = slot();
    EXPECT_OK(sys::cap_mint(kSlotLog, minted, kRightWrite, 0x574152));
    const char forged[] = "root: EXO-FORGED-LINE (code 0)\n[    0.000001] info: EXO-FORGED-LINE";
    EXPECT_OK(sys::log_write(minted, forged, sizeof forged - 1));
    EXPECT_OK(sys::cap_delete(minted));
    free_slot(minted);
}

void test_cap_info() {
    alignas(8) CapInfo info{};
    EXPECT_OK(sys::cap_info(kSlotMemory, &info));
    EXPECT_TRUE(info.type == uint16_t(ObjectType::Memory) && info.rights == kRightsAll);
    EXPECT_OK(sys::cap_info(kSlotSelf, &info));
    EXPECT_TRUE(info.type == uint16_t(ObjectType::Process));
    EXPECT_OK(sys::cap_info(kSlotIoPorts, &info));
    EXPECT_TRUE(info.type == uint16_t(ObjectType::IoPorts) && info.first == 0 &&
                info.count == 65536);
    EXPECT_STATUS(sys::cap_info(kSlotMemory, nullptr), Status::OutOfRange);
    EXPECT_STATUS(sys::cap_info(kSlotMemory, reinterpret_cast<CapInfo*>(kKernel)),
                  Status::OutOfRange);
    EXPECT_STATUS(sys::cap_info(kSlotMemory, reinterpret_cast<CapInfo*>(kUnmapped)),
                  Status::BadAddress);
    EXPECT_STATUS(sys::cap_info(kSlotMemory, reinterpret_cast<CapInfo*>(misaligned())),
                  Status::Misaligned);
    EXPECT_STATUS(sys::cap_info(kSlotMemory, reinterpret_cast<CapInfo*>((ro() + 7) & ~7ull)),
                  Status::BadAddress); // read-only memory cannot receive the record
    EXPECT_STATUS(sys::cap_info(kNullSlot, &info), Status::NotFound);
    EXPECT_STATUS(sys::cap_info(kOutOfRange, &info), Status::OutOfRange);
    EXPECT_STATUS(syscall(Sys::CapInfo, uint64_t(1) << 32 | kSlotMemory, uint64_t(&info)).status,
                  Status::OutOfRange); // slots are 32-bit: no truncation to a valid one
}

void test_copy_mint_move_delete() {
    CapInfo info{};
    Slot a = slot(), b = slot(), c = slot();
    // Copy: rights only shrink, whatever the mask asks.
    EXPECT_OK(sys::cap_copy(kSlotLog, a, kRightWrite | kRightDuplicate));
    EXPECT_OK(sys::cap_copy(a, b, kRightsAll));
    EXPECT_OK(sys::cap_info(b, &info));
    EXPECT_TRUE(info.rights == (kRightWrite | kRightDuplicate));
    EXPECT_STATUS(sys::cap_copy(a, b, kRightsAll), Status::AlreadyExists);
    EXPECT_STATUS(sys::cap_copy(a, a, kRightsAll), Status::InvalidArgument);
    EXPECT_STATUS(sys::cap_copy(a, kNullSlot, kRightsAll), Status::InvalidArgument);
    EXPECT_STATUS(sys::cap_copy(a, kOutOfRange, kRightsAll), Status::OutOfRange);
    EXPECT_STATUS(sys::cap_copy(kOutOfRange, c, kRightsAll), Status::OutOfRange);
    EXPECT_STATUS(sys::cap_copy(c, a, kRightsAll), Status::NotFound);
    EXPECT_STATUS(sys::cap_copy(a, c, 1u << 20), Status::InvalidArgument); // unknown right
    EXPECT_OK(sys::cap_copy(a, c, kRightWrite));                           // no Duplicate left in c
    Slot d = slot();
    EXPECT_STATUS(sys::cap_copy(c, d, kRightsAll), Status::AccessDenied);
    EXPECT_STATUS(sys::cap_mint(c, d, kRightsAll, 7), Status::AccessDenied);
    // Mint: a badge, never changed once set.
    EXPECT_OK(sys::cap_mint(a, d, kRightsAll, 7));
    EXPECT_OK(sys::cap_info(d, &info));
    EXPECT_TRUE(info.badge == 7 && info.rights == (kRightWrite | kRightDuplicate));
    Slot e = slot();
    EXPECT_STATUS(sys::cap_mint(d, e, kRightsAll, 8), Status::BadState);
    EXPECT_STATUS(sys::cap_mint(a, e, kRightsAll, 0), Status::InvalidArgument);
    EXPECT_OK(sys::cap_mint(d, e, kRightsAll, 7));
    // Move: the capability changes slot; the old slot is empty.
    Slot f = slot();
    EXPECT_OK(sys::cap_move(e, f));
    EXPECT_STATUS(sys::cap_info(e, &info), Status::NotFound);
    EXPECT_OK(sys::cap_info(f, &info));
    EXPECT_TRUE(info.badge == 7);
    EXPECT_STATUS(sys::cap_move(e, f), Status::NotFound);
    EXPECT_STATUS(sys::cap_move(f, b), Status::AlreadyExists);
    EXPECT_STATUS(sys::cap_move(f, kNullSlot), Status::InvalidArgument);
    // Delete: the slot is empty afterwards; deleting again is NotFound.
    EXPECT_OK(sys::cap_delete(f));
    EXPECT_STATUS(sys::cap_delete(f), Status::NotFound);
    EXPECT_STATUS(sys::log_write(f, "x", 1), Status::NotFound);
    EXPECT_STATUS(sys::cap_delete(kOutOfRange), Status::OutOfRange);
    // Revoke: every capability derived from a (b, c, d) goes; a stays.
    SysResult r = sys::cap_revoke(a);
    EXPECT_OK(r.status);
    EXPECT_TRUE(r.value == 3);
    for (Slot s : {b, c, d})
        EXPECT_STATUS(sys::log_write(s, "x", 1), Status::NotFound);
    EXPECT_OK(sys::log_write(a, "syscall-test: after revoke", 26));
    EXPECT_STATUS(sys::cap_revoke(e).status, Status::NotFound);
    for (Slot s : {a, b, c, d, e, f})
        drop(s);
}

void test_narrow() {
    CapInfo info{};
    Slot ports = slot(), lines = slot(), device = slot(), x = slot();
    EXPECT_OK(sys::cap_narrow(kSlotIoPorts, 0x3F8, 8, ports));
    EXPECT_OK(sys::cap_info(ports, &info));
    EXPECT_TRUE(info.type == uint16_t(ObjectType::IoPorts) && info.first == 0x3F8 &&
                info.count == 8);
    EXPECT_STATUS(sys::cap_narrow(ports, 4, 8, x), Status::OutOfRange); // past its end
    EXPECT_STATUS(sys::cap_narrow(ports, 0, 0, x), Status::OutOfRange);
    EXPECT_STATUS(sys::cap_narrow(kSlotIoPorts, 65530, 10, x), Status::OutOfRange);
    EXPECT_STATUS(sys::cap_narrow(kSlotIoPorts, UINT64_MAX, 2, x), Status::OutOfRange);
    EXPECT_STATUS(sys::cap_narrow(kSlotMemory, 0, 1, x), Status::WrongType);
    EXPECT_STATUS(sys::cap_narrow(kSlotIoPorts, 0, 1, ports), Status::AlreadyExists);
    EXPECT_OK(sys::cap_narrow(kSlotIrq, 4, 1, lines));
    EXPECT_OK(sys::cap_narrow(kSlotDeviceMemory, 0xB8000 / 4096, 1, device));
    // Revoking the whole-machine capability would take the narrowed ones with it; here only
    // the narrowed port range is revoked from its parent by deleting the parent's children.
    Slot sub = slot();
    EXPECT_OK(sys::cap_narrow(ports, 0, 1, sub));
    EXPECT_TRUE(sys::cap_revoke(ports).value == 1);
    EXPECT_STATUS(sys::cap_info(sub, &info), Status::NotFound);
    for (Slot s : {ports, lines, device, x, sub})
        drop(s);
}

void test_memory() {
    alignas(8) MemoryInfo info{};
    Slot q = slot(), q2 = slot(), x = slot();
    EXPECT_OK(sys::memory_split(kSlotMemory, 64 * 1024, q));
    EXPECT_OK(sys::memory_info(q, &info));
    EXPECT_TRUE(info.limit == 64 * 1024 && info.used == 0);
    EXPECT_STATUS(sys::memory_split(kSlotMemory, 0, x), Status::InvalidArgument);
    EXPECT_STATUS(sys::memory_split(kSlotMemory, 4097, x), Status::Misaligned);
    EXPECT_STATUS(sys::memory_split(kSlotMemory, uint64_t(1) << 50, x), Status::NoMemory);
    EXPECT_STATUS(sys::memory_split(q, 128 * 1024, x), Status::NoMemory);
    EXPECT_STATUS(sys::memory_split(kSlotLog, 4096, x), Status::WrongType);
    Slot read_only = copy_of(q, kRightRead | kRightDuplicate);
    EXPECT_STATUS(sys::memory_split(read_only, 4096, x), Status::AccessDenied);
    EXPECT_OK(sys::memory_info(read_only, &info));
    EXPECT_STATUS(sys::memory_info(q, nullptr), Status::OutOfRange);
    EXPECT_STATUS(sys::memory_info(q, reinterpret_cast<MemoryInfo*>(misaligned())),
                  Status::Misaligned);
    EXPECT_STATUS(sys::memory_info(q, reinterpret_cast<MemoryInfo*>(kUnmapped)),
                  Status::BadAddress);
    // Quota exhaustion is an error for the holder, never a kernel problem.
    Slot f1 = slot(), f2 = slot(), f3 = slot();
    EXPECT_STATUS(sys::frame_alloc(q, 16, f1), Status::NoMemory); // 64 KiB + the object
    EXPECT_OK(sys::frame_alloc(q, 8, f1));
    EXPECT_OK(sys::frame_alloc(q, 4, f2));
    EXPECT_STATUS(sys::frame_alloc(q, 4, f3), Status::NoMemory);
    EXPECT_OK(sys::memory_info(q, &info));
    EXPECT_TRUE(info.used > 48 * 1024 && info.used <= 64 * 1024);
    EXPECT_OK(sys::address_space_create(q, f3)); // a table page and the object still fit
    Slot f4 = slot();
    EXPECT_STATUS(sys::frame_alloc(q, 4, f4), Status::NoMemory);
    drop(f1);
    drop(f2);
    drop(f3);
    drop(f4);
    EXPECT_OK(sys::memory_info(q, &info));
    EXPECT_TRUE(info.used == 0);
    // A sub-quota is charged in full to its parent (with its own small record) until it dies.
    EXPECT_OK(sys::memory_split(q, 32 * 1024, q2));
    EXPECT_OK(sys::memory_info(q, &info));
    EXPECT_TRUE(info.used > 32 * 1024 && info.used <= 32 * 1024 + 256);
    drop(q2);
    EXPECT_OK(sys::memory_info(q, &info));
    EXPECT_TRUE(info.used == 0);
    for (Slot s : {q, x, read_only, f3})
        drop(s);
}

void test_frames() {
    Slot f = slot(), g = slot(), x = slot();
    EXPECT_OK(sys::frame_alloc(kSlotMemory, 4, f));
    EXPECT_STATUS(sys::frame_alloc(kSlotMemory, 3, x), Status::InvalidArgument);
    EXPECT_STATUS(sys::frame_alloc(kSlotMemory, 0, x), Status::InvalidArgument);
    EXPECT_STATUS(sys::frame_alloc(kSlotMemory, 2048, x), Status::InvalidArgument);
    EXPECT_STATUS(sys::frame_alloc(kSlotLog, 1, x), Status::WrongType);
    EXPECT_STATUS(sys::frame_alloc(kSlotMemory, 1, f), Status::AlreadyExists);
    CapInfo info{};
    EXPECT_OK(sys::cap_info(f, &info));
    EXPECT_TRUE(info.type == uint16_t(ObjectType::Frame) && info.count == 4);

    const uint32_t rw = kMapWrite;
    EXPECT_OK(sys::frame_map(kSlotAddressSpace, f, kMapArea, rw));
    auto* words = reinterpret_cast<volatile uint64_t*>(kMapArea);
    EXPECT_TRUE(words[0] == 0 && words[2047] == 0); // frames arrive zeroed
    words[0] = 0x1234;
    EXPECT_STATUS(sys::frame_map(kSlotAddressSpace, f, kMapArea + 0x2000, rw),
                  Status::AlreadyExists); // overlaps
    EXPECT_STATUS(sys::frame_map(kSlotAddressSpace, f, kMapArea + 0x10000, kMapWrite | kMapExecute),
                  Status::InvalidArgument); // W^X
    EXPECT_STATUS(sys::frame_map(kSlotAddressSpace, f, kMapArea + 0x10000, 1u << 7),
                  Status::InvalidArgument);
    EXPECT_STATUS(sys::frame_map(kSlotAddressSpace, f, kMapArea + 0x10001, rw), Status::Misaligned);
    EXPECT_STATUS(sys::frame_map(kSlotAddressSpace, f, kKernel, rw), Status::OutOfRange);
    EXPECT_STATUS(sys::frame_map(kSlotAddressSpace, f, kNull, rw), Status::OutOfRange);
    EXPECT_STATUS(sys::frame_map(kSlotAddressSpace, f, kUserTop - 0x1000, rw), Status::OutOfRange);
    EXPECT_STATUS(sys::frame_map(kSlotAddressSpace, kSlotLog, kMapArea + 0x10000, rw),
                  Status::WrongType);
    EXPECT_STATUS(sys::frame_map(kSlotMemory, f, kMapArea + 0x10000, rw), Status::WrongType);
    // A read-only capability maps readable only; without Execute, never executable.
    EXPECT_OK(sys::cap_copy(f, g, kRightRead | kRightDuplicate));
    EXPECT_STATUS(sys::frame_map(kSlotAddressSpace, g, kMapArea + 0x10000, rw),
                  Status::AccessDenied);
    EXPECT_STATUS(sys::frame_map(kSlotAddressSpace, g, kMapArea + 0x10000, kMapExecute),
                  Status::AccessDenied);
    EXPECT_OK(sys::frame_map(kSlotAddressSpace, g, kMapArea + 0x10000, kMapRead));
    EXPECT_TRUE(*reinterpret_cast<volatile uint64_t*>(kMapArea + 0x10000) == 0x1234);
    // Protect: within what the mapping's capability allowed.
    EXPECT_STATUS(sys::frame_protect(kSlotAddressSpace, kMapArea + 0x10000, rw),
                  Status::AccessDenied);
    EXPECT_OK(sys::frame_protect(kSlotAddressSpace, kMapArea, kMapRead));
    EXPECT_OK(sys::frame_protect(kSlotAddressSpace, kMapArea, kMapExecute));
    EXPECT_OK(sys::frame_protect(kSlotAddressSpace, kMapArea, rw));
    EXPECT_STATUS(sys::frame_protect(kSlotAddressSpace, kMapArea, kMapWrite | kMapExecute),
                  Status::InvalidArgument);
    EXPECT_STATUS(sys::frame_protect(kSlotAddressSpace, kMapArea + 0x1000, kMapRead),
                  Status::NotFound); // not where a mapping starts
    EXPECT_STATUS(sys::frame_protect(kSlotAddressSpace, kMapArea + 1, kMapRead),
                  Status::Misaligned);
    words[1] = 5; // writable again
    // The mapping holds the frame: deleting both capabilities leaves the memory mapped.
    drop(f);
    drop(g);
    EXPECT_TRUE(words[0] == 0x1234 && words[1] == 5);
    EXPECT_OK(sys::frame_unmap(kSlotAddressSpace, kMapArea));
    EXPECT_OK(sys::frame_unmap(kSlotAddressSpace, kMapArea + 0x10000));
    EXPECT_STATUS(sys::frame_unmap(kSlotAddressSpace, kMapArea), Status::NotFound);
    EXPECT_STATUS(sys::frame_unmap(kSlotAddressSpace, kMapArea + 8), Status::Misaligned);
    EXPECT_STATUS(sys::frame_unmap(kSlotLog, kMapArea), Status::WrongType);
    // Device memory: never RAM, never executable; the VGA text buffer is outside RAM.
    Slot vga = slot(), ram = slot();
    EXPECT_OK(sys::cap_narrow(kSlotDeviceMemory, 0xB8000 / 4096, 1, vga));
    EXPECT_OK(sys::frame_map(kSlotAddressSpace, vga, kMapArea, rw));
    EXPECT_STATUS(sys::frame_map(kSlotAddressSpace, vga, kMapArea + 0x10000, kMapExecute),
                  Status::AccessDenied);
    EXPECT_OK(sys::frame_unmap(kSlotAddressSpace, kMapArea));
    EXPECT_OK(sys::cap_narrow(kSlotDeviceMemory, 0x200000 / 4096, 1, ram));
    EXPECT_STATUS(sys::frame_map(kSlotAddressSpace, ram, kMapArea, kMapRead), Status::AccessDenied);
    for (Slot s : {x, vga, ram})
        drop(s);
}

std::atomic<uint64_t> thread_runs{0};

extern "C" [[noreturn]] void thread_main(uint64_t arg) {
    thread_runs.fetch_add(arg, std::memory_order_release);
    sys::thread_exit();
}

void test_threads() {
    Slot t = slot(), stack = slot(), x = slot();
    EXPECT_OK(sys::frame_alloc(kSlotMemory, 4, stack));
    EXPECT_OK(sys::frame_map(kSlotAddressSpace, stack, kMapArea + 0x100000, kMapWrite));
    uint64_t top = kMapArea + 0x100000 + 4 * 4096 - 8; // as if a call had pushed a return address
    EXPECT_OK(sys::thread_create(kSlotSelf, kSlotMemory, t));
    Slot t_none = copy_of(t, 0);
    auto thread_watch = [](Slot thread, Slot end) { return sys::thread_watch(thread, end, 7); };
    check_watch_arguments(thread_watch, t, t_none, kSlotSelf);
    EXPECT_STATUS(syscall(Sys::ThreadWait, t, 1'000'000).status, Status::Unsupported); // retired
    EXPECT_STATUS(wait_thread(t, after(1'000'000)), Status::TimedOut); // never started
    EXPECT_STATUS(sys::thread_start(t, kKernel, top, 0).status, Status::OutOfRange);
    EXPECT_STATUS(sys::thread_start(t, uint64_t(&thread_main), kKernel, 0).status,
                  Status::OutOfRange);
    EXPECT_OK(sys::thread_start(t, uint64_t(&thread_main), top, 41).status);
    EXPECT_STATUS(sys::thread_start(t, uint64_t(&thread_main), top, 1).status, Status::BadState);
    EXPECT_OK(wait_thread(t, after(kTimeout)));
    EXPECT_TRUE(thread_runs.load(std::memory_order_acquire) == 41);
    // A second thread, waited for while this thread's quota is watched: the wait's ring comes
    // and goes, so only the page tables of the first wait's mapping stay (as any mapping's do).
    uint64_t before = quota_used();
    EXPECT_OK(sys::thread_create(kSlotSelf, kSlotMemory, x));
    EXPECT_OK(sys::thread_start(x, uint64_t(&thread_main), top, 1).status);
    EXPECT_OK(wait_thread(x, after(kTimeout)));
    EXPECT_TRUE(thread_runs.load(std::memory_order_acquire) == 42);
    drop(x);
    x = slot();
    EXPECT_TRUE(settled_quota_use(kSlotMemory, before) == before);
    EXPECT_STATUS(sys::thread_create(kSlotLog, kSlotMemory, x), Status::WrongType);
    EXPECT_STATUS(sys::thread_create(kSlotSelf, kSlotLog, x), Status::WrongType);
    Slot self_ro = copy_of(kSlotSelf, kRightRead);
    EXPECT_STATUS(sys::thread_create(self_ro, kSlotMemory, x), Status::AccessDenied);
    EXPECT_STATUS(wait_thread(kSlotLog, after(1)), Status::WrongType);
    EXPECT_STATUS(sys::thread_start(kSlotLog, uint64_t(&thread_main), top, 0).status,
                  Status::WrongType);
    Slot t_ro = copy_of(t, kRightRead);
    EXPECT_STATUS(sys::thread_start(t_ro, uint64_t(&thread_main), top, 0).status,
                  Status::AccessDenied);
    EXPECT_OK(wait_thread(t_ro, after(1))); // Read is enough to watch; it has ended
    EXPECT_STATUS(wait_thread(t_none, after(1)), Status::AccessDenied);
    drop(t_ro);
    // Deleted but still allocated here: the wait's own ring ends must not take the slot.
    EXPECT_OK(sys::cap_delete(t_none));
    EXPECT_STATUS(wait_thread(t_none, after(1)), Status::NotFound);
    free_slot(t_none);
    EXPECT_OK(sys::frame_unmap(kSlotAddressSpace, kMapArea + 0x100000));
    for (Slot s : {t, stack, x, self_ro})
        drop(s);
}

void test_processes() {
    alignas(8) ExitInfo exit{};
    Slot q = slot(), as = slot(), p = slot(), x = slot();
    EXPECT_OK(sys::memory_split(kSlotMemory, 256 * 1024, q));
    EXPECT_STATUS(sys::address_space_create(kSlotLog, as), Status::WrongType);
    EXPECT_STATUS(sys::address_space_create(q, kNullSlot), Status::InvalidArgument);
    EXPECT_STATUS(sys::address_space_create(q, kOutOfRange), Status::OutOfRange);
    Slot q_ro = copy_of(q, kRightRead);
    EXPECT_STATUS(sys::address_space_create(q_ro, as), Status::AccessDenied);
    drop(q_ro);
    EXPECT_STATUS(sys::address_space_create(q_ro, as), Status::NotFound);
    EXPECT_OK(sys::address_space_create(q, as));
    EXPECT_STATUS(sys::address_space_create(q, as), Status::AlreadyExists);
    const char name[] = "unstarted";
    EXPECT_STATUS(sys::process_create(q, as, p, name, exo::kMaxProcessName + 1),
                  Status::OutOfRange);
    EXPECT_STATUS(sys::process_create(q, as, p, reinterpret_cast<const char*>(kUnmapped), 4),
                  Status::BadAddress);
    EXPECT_STATUS(sys::process_create(q, kSlotLog, p, name, 9), Status::WrongType);
    EXPECT_OK(sys::process_create(q, as, p, name, 9));
    Slot p_none = copy_of(p, kRightDuplicate);
    check_watch_arguments(sys::process_watch, p, p_none, kSlotLog);
    EXPECT_STATUS(wait_process(p_none, after(1), &exit), Status::AccessDenied);
    EXPECT_STATUS(sys::process_grant(p_none, kSlotLog, 23, kRightWrite), Status::AccessDenied);
    drop(p_none);
    // Grant: only before start, never the process's own two slots, never Process/Thread caps.
    EXPECT_OK(sys::process_grant(p, kSlotLog, kSlotLog, kRightWrite));
    EXPECT_STATUS(sys::process_grant(p, kSlotLog, kSlotLog, kRightWrite), Status::AlreadyExists);
    EXPECT_STATUS(sys::process_grant(p, kSlotLog, kSlotSelf, kRightWrite), Status::InvalidArgument);
    EXPECT_STATUS(sys::process_grant(p, kSlotSelf, 20, kRightRead), Status::WrongType);
    Slot no_grant = copy_of(kSlotLog, kRightWrite);
    EXPECT_STATUS(sys::process_grant(p, no_grant, 21, kRightWrite), Status::AccessDenied);
    EXPECT_STATUS(sys::process_grant(p, kSlotLog, kOutOfRange, kRightWrite), Status::OutOfRange);
    // Waiting on a process that never started times out; kill ends it at once.
    EXPECT_STATUS(wait_process(p, after(1'000'000), &exit), Status::TimedOut);
    EXPECT_STATUS(syscall(Sys::ProcessWait, p, 1, uint64_t(&exit)).status,
                  Status::Unsupported); // retired
    // A process watched already (by a server's event ring, say) cannot be waited for.
    {
        auto ring = ring_create(kSlotMemory, 12);
        EXPECT_OK(ring.status());
        if (ring.ok()) {
            EXPECT_OK(sys::process_watch(p, ring.value().producer.slot()));
            EXPECT_STATUS(wait_process(p, after(1), &exit), Status::BadState);
            EXPECT_OK(sys::process_watch(p, kNullSlot));
        }
    }
    EXPECT_STATUS(sys::process_start(p, kKernel, kStackTop, 0).status, Status::OutOfRange);
    EXPECT_STATUS(sys::process_start(kSlotLog, 0x400000, kStackTop, 0).status, Status::WrongType);
    EXPECT_OK(sys::process_kill(p));
    EXPECT_OK(wait_process(p, after(kTimeout), &exit));
    EXPECT_TRUE(exit.reason == uint32_t(ExitReason::Killed));
    EXPECT_OK(wait_process(p, after(1), nullptr)); // ended: at once; the record is optional
    EXPECT_STATUS(sys::process_start(p, 0x400000, kStackTop, 0).status, Status::BadState);
    EXPECT_STATUS(sys::process_grant(p, kSlotLog, 22, kRightWrite), Status::BadState);
    drop(p);
    drop(as);
    MemoryInfo info{};
    EXPECT_OK(sys::memory_info(q, &info));
    EXPECT_TRUE(info.used == 0);
    // A real child: exit code, then start after exit is refused.
    auto child = start_fault_child(*boot, ChildMode::Exit, 9);
    EXPECT_OK(child.status());
    if (child.ok()) {
        EXPECT_OK(wait_process(child.value().process.slot(), after(kTimeout), &exit));
        EXPECT_TRUE(exit.reason == uint32_t(ExitReason::Exited) && exit.code == 9);
        EXPECT_STATUS(
            sys::process_start(child.value().process.slot(), 0x400000, kStackTop, 0).status,
            Status::BadState);
        Slot ro = copy_of(child.value().process.slot(), kRightRead);
        EXPECT_STATUS(sys::process_kill(ro), Status::AccessDenied);
        drop(ro);
    }
    // A killed child that was running.
    auto spinner = start_fault_child(*boot, ChildMode::Spin);
    EXPECT_OK(spinner.status());
    if (spinner.ok()) {
        EXPECT_STATUS(wait_process(spinner.value().process.slot(), after(1'000'000), &exit),
                      Status::TimedOut);
        EXPECT_OK(sys::process_kill(spinner.value().process.slot()));
        EXPECT_OK(wait_process(spinner.value().process.slot(), after(kTimeout), &exit));
        EXPECT_TRUE(exit.reason == uint32_t(ExitReason::Killed));
    }
    // A malformed ELF is refused before anything is created (and nothing stays charged).
    const BootModule* broken = find_module(*boot, "broken-elf");
    EXPECT_TRUE(broken != nullptr);
    if (broken) {
        EXPECT_OK(sys::memory_info(kSlotMemory, &info));
        uint64_t used = info.used;
        SpawnOptions o;
        auto r = spawn(reinterpret_cast<const void*>(broken->address), broken->size, o);
        EXPECT_STATUS(r.status(), Status::Truncated);
        EXPECT_OK(sys::memory_info(kSlotMemory, &info));
        EXPECT_TRUE(info.used == used);
    }
    for (Slot s : {q, x, no_grant})
        drop(s);
}

void outb(uint16_t port, uint8_t v) {
    asm volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
uint8_t inb(uint16_t port) {
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

// COM1's "transmitter empty" interrupt arrives at once when enabled: a real IRQ on line 4, which
// the kernel delivers as an IrqEvent message on the ring the line is bound to.
void test_irq_and_ports() {
    Slot ports = slot(), line = slot(), all = slot(), absent = slot();
    auto events = ring_create(kSlotMemory, 12);
    EXPECT_OK(events.status());
    if (!events.ok())
        return;
    Slot producer = events.value().producer.slot();
    auto consumer = RingConsumer::attach(static_cast<Cap<Ring>&&>(events.value().consumer));
    EXPECT_OK(consumer.status());
    if (!consumer.ok())
        return;
    EXPECT_OK(sys::cap_narrow(kSlotIoPorts, 0x3F8, 8, ports));
    EXPECT_OK(sys::cap_narrow(kSlotIrq, 4, 1, line));
    EXPECT_OK(sys::cap_narrow(kSlotIrq, 60, 1, absent));
    EXPECT_STATUS(sys::io_port_grant(kSlotMemory), Status::WrongType);
    EXPECT_OK(sys::io_port_grant(ports));
    EXPECT_STATUS(syscall(Sys::IrqWait, line, 1000).status, Status::Unsupported); // retired
    EXPECT_STATUS(sys::irq_ack(line), Status::BadState);                          // not bound
    EXPECT_STATUS(sys::irq_bind(kSlotIrq, producer), Status::InvalidArgument);    // many lines
    EXPECT_STATUS(sys::irq_bind(absent, producer), Status::NotFound); // no I/O APIC input
    EXPECT_STATUS(sys::irq_bind(kSlotLog, producer), Status::WrongType);
    EXPECT_STATUS(sys::irq_bind(line, kSlotLog), Status::WrongType);
    EXPECT_STATUS(sys::irq_bind(line, consumer.value().slot()), Status::InvalidArgument);
    Slot line_ro = copy_of(line, kRightRead | kRightDuplicate);
    EXPECT_STATUS(sys::irq_bind(line_ro, producer), Status::AccessDenied);
    EXPECT_STATUS(sys::irq_ack(line_ro), Status::AccessDenied);
    Slot ports_ro = copy_of(ports, kRightRead);
    EXPECT_STATUS(sys::io_port_grant(ports_ro), Status::AccessDenied);
    drop(line_ro);
    drop(ports_ro);
    EXPECT_STATUS(sys::io_port_grant(ports_ro), Status::NotFound);
    EXPECT_OK(sys::irq_bind(line, producer));
    EXPECT_STATUS(sys::irq_bind(line, producer), Status::BadState);
    EXPECT_OK(sys::cap_narrow(kSlotIrq, 4, 1, all));
    EXPECT_STATUS(sys::irq_bind(all, producer), Status::AlreadyExists); // another holds line 4
    EXPECT_STATUS(consumer.value().receive(sys::clock_ns() + 1'000'000).status(), Status::TimedOut);
    uint8_t mcr = inb(0x3FC);
    outb(0x3FC, mcr | 0x08); // OUT2 gates the UART's interrupt onto the ISA line
    outb(0x3F9, 0x02);       // interrupt when the transmitter holding register is empty
    auto message = consumer.value().receive(sys::clock_ns() + kTimeout);
    EXPECT_OK(message.status());
    IrqEvent event{};
    if (message.ok()) {
        EXPECT_TRUE(message.value().type == kEventIrq &&
                    message.value().length == sizeof(IrqEvent));
        memcpy(&event, message.value().data, sizeof event);
        EXPECT_TRUE(event.line == 4 && event.count >= 1);
        consumer.value().release();
    }
    outb(0x3F9, 0x00);
    (void)inb(0x3FA); // reading IIR clears the pending THRE condition
    outb(0x3FC, mcr);
    EXPECT_OK(sys::irq_ack(line));
    print("syscall-test: IRQ %u arrived as a ring message (count %u)", event.line, event.count);
    for (Slot s : {ports, line, all, absent})
        drop(s);
}

// The System capability's calls: the root holds it (Read, Manage, Duplicate, Grant).
void test_system() {
    alignas(8) static SystemInfo info;
    Slot read_only = copy_of(kSlotSystem, kRightRead), blind = copy_of(kSlotSystem, kRightManage);
    Slot empty = slot();
    EXPECT_OK(sys::system_info(kSlotSystem, &info));
    EXPECT_TRUE(info.cpus >= 1 && info.processes >= 1 && info.log_next > 1);
    EXPECT_TRUE(info.memory_free <= info.memory_usable && info.memory_free > 0);
    EXPECT_TRUE(strcmp(info.version, "") != 0 && info.log_level == uint32_t(LogLevel::Info));
    uint64_t in_blocks = 0;
    for (size_t k = 0; k < kBuddyOrders; ++k)
        in_blocks += info.free_blocks[k] * (kPageSize << k);
    EXPECT_TRUE(in_blocks > 0 && in_blocks <= info.memory_free);
    EXPECT_TRUE(info.largest_free >= kPageSize && info.largest_free <= in_blocks);
    EXPECT_OK(sys::system_info(read_only, &info));
    EXPECT_STATUS(sys::system_info(blind, &info), Status::AccessDenied);
    EXPECT_STATUS(sys::system_info(kSlotLog, &info), Status::WrongType);
    EXPECT_STATUS(sys::system_info(empty, &info), Status::NotFound);
    EXPECT_STATUS(sys::system_info(kOutOfRange, &info), Status::OutOfRange);
    auto as_info = [](uint64_t p) { return reinterpret_cast<SystemInfo*>(p); };
    EXPECT_STATUS(sys::system_info(kSlotSystem, as_info(kNull)), Status::OutOfRange);
    EXPECT_STATUS(sys::system_info(kSlotSystem, as_info(kKernel)), Status::OutOfRange);
    EXPECT_STATUS(sys::system_info(kSlotSystem, as_info(misaligned())), Status::Misaligned);
    EXPECT_STATUS(sys::system_info(kSlotSystem, as_info(kUnmapped)), Status::BadAddress);
    EXPECT_STATUS(sys::system_info(kSlotSystem, as_info(ro() & ~uint64_t(7))),
                  Status::BadAddress);

    // ProcessList: this process is the first (the root, id 1), in id order, paged by id.
    alignas(8) static ProcessRecord records[4];
    SysResult listed = sys::process_list(kSlotSystem, records, 4, 0);
    EXPECT_OK(listed.status);
    EXPECT_TRUE(listed.value >= 1 && records[0].id == 1 &&
                strcmp(records[0].name, "syscall-test") == 0);
    EXPECT_TRUE(records[0].threads == 1 && records[0].quota_used > 0 &&
                records[0].quota_used <= records[0].quota_limit &&
                records[0].cap_slots == kRootCapSlots && records[0].caps_used >= 8);
    for (uint64_t i = 1; i < listed.value; ++i)
        EXPECT_TRUE(records[i].id > records[i - 1].id);
    SysResult rest = sys::process_list(kSlotSystem, records, 4, 1);
    EXPECT_TRUE(rest.status == Status::Ok && rest.value == listed.value - 1);
    EXPECT_TRUE(sys::process_list(kSlotSystem, records, 0, 0).value == 0);
    EXPECT_TRUE(sys::process_list(kSlotSystem, records, 4, ~uint64_t(0)).value == 0);
    EXPECT_STATUS(sys::process_list(blind, records, 4, 0).status, Status::AccessDenied);
    EXPECT_STATUS(sys::process_list(kSlotSystem, reinterpret_cast<ProcessRecord*>(kKernel), 4, 0)
                      .status,
                  Status::OutOfRange);
    EXPECT_STATUS(sys::process_list(kSlotSystem, records, uint64_t(1) << 60, 0).status,
                  Status::OutOfRange);
    EXPECT_STATUS(sys::process_list(kSlotSystem,
                                    reinterpret_cast<ProcessRecord*>(misaligned()), 1, 0)
                      .status,
                  Status::Misaligned);

    // ProcessCaps: this process's slots, in order, the System capability among them.
    alignas(8) static CapRecord caps[8];
    SysResult held = sys::process_caps(kSlotSystem, 1, caps, 8, 0);
    EXPECT_OK(held.status);
    EXPECT_TRUE(held.value == 8 && caps[0].slot == kSlotSelf &&
                caps[0].info.type == uint16_t(ObjectType::Process));
    bool system_seen = false;
    for (uint64_t i = 0; i < held.value; ++i)
        system_seen |= caps[i].slot == kSlotSystem &&
                       caps[i].info.type == uint16_t(ObjectType::System);
    EXPECT_TRUE(system_seen);
    SysResult later = sys::process_caps(kSlotSystem, 1, caps, 8, kSlotSystem);
    EXPECT_TRUE(later.status == Status::Ok && (later.value == 0 || caps[0].slot > kSlotSystem));
    EXPECT_STATUS(sys::process_caps(kSlotSystem, 999999, caps, 8, 0).status, Status::NotFound);
    EXPECT_STATUS(sys::process_caps(blind, 1, caps, 8, 0).status, Status::AccessDenied);
    EXPECT_STATUS(sys::process_caps(kSlotSystem, 1, reinterpret_cast<CapRecord*>(kUnmapped), 8, 0)
                      .status,
                  Status::BadAddress);

    // LogLevel and SystemShutdown: Manage, and values in range (checked before the capability,
    // so a bad code never reaches the right that would act on it).
    EXPECT_STATUS(sys::log_level(kSlotSystem, LogLevel(4)), Status::InvalidArgument);
    EXPECT_STATUS(sys::log_level(read_only, LogLevel::Info), Status::AccessDenied);
    EXPECT_OK(sys::log_level(kSlotSystem, LogLevel::Info));
    EXPECT_STATUS(sys::system_shutdown(kSlotSystem, kMaxShutdownCode + 1), Status::OutOfRange);
    EXPECT_STATUS(sys::system_shutdown(read_only, 0), Status::AccessDenied);
    EXPECT_STATUS(sys::system_shutdown(kSlotLog, 0), Status::WrongType);

    // LogAttach: a producer end with Write; lines then arrive in the ring as numbered records.
    // LogPrint writes the oldest to the serial port and releases them; detaching writes the
    // rest (none lost or doubled: the harness checks the numbers of the whole log).
    EXPECT_STATUS(sys::log_print(kSlotSystem, 1).status, Status::BadState); // none attached
    EXPECT_STATUS(sys::log_print(read_only, 1).status, Status::AccessDenied);
    auto ring = ring_create(kSlotMemory, 12);
    EXPECT_OK(ring.status());
    if (ring.ok()) {
        Slot producer = ring.value().producer.slot(), consumer = ring.value().consumer.slot();
        Slot producer_ro = copy_of(producer, kRightRead);
        EXPECT_STATUS(sys::log_attach(kSlotSystem, consumer).status, Status::InvalidArgument);
        EXPECT_STATUS(sys::log_attach(kSlotSystem, producer_ro).status, Status::AccessDenied);
        EXPECT_STATUS(sys::log_attach(read_only, producer).status, Status::AccessDenied);
        EXPECT_STATUS(sys::log_attach(kSlotSystem, kSlotLog).status, Status::WrongType);
        auto mapped = map_ring_end(ring.value().consumer, false);
        EXPECT_OK(mapped.status());
        SysResult first = sys::log_attach(kSlotSystem, producer);
        EXPECT_OK(first.status);
        print("syscall-test: this line goes through the test's own ring, then LogPrint");
        print("syscall-test: this one waits in the ring until the kernel lets it go");
        if (mapped.ok()) {
            ring::Consumer c(mapped.value().control, mapped.value().data, mapped.value().size);
            auto m = c.peek();
            EXPECT_OK(m.status());
            if (m.ok()) {
                LogRecord r{};
                memcpy(&r, m.value().data, sizeof r);
                const char* text = reinterpret_cast<const char*>(m.value().data) + sizeof r;
                EXPECT_TRUE(m.value().type == kEventLog && r.seq == first.value &&
                            r.level == uint32_t(LogLevel::Info) &&
                            r.length + sizeof r == m.value().length &&
                            strncmp(text, "[syscall-test] syscall-test: this line", 38) == 0);
            }
            // Peeked, not released: LogPrint takes records from the consumer's head.
        }
        SysResult printed = sys::log_print(kSlotSystem, 1);
        EXPECT_TRUE(printed.status == Status::Ok && printed.value == 1);
        EXPECT_TRUE(mapped.ok() && mapped.value().control->head.load() != 0);
        // The second line stays in the ring: the kernel writes it out when the ring is let go.
        SysResult back = sys::log_attach(kSlotSystem, kNullSlot);
        EXPECT_TRUE(back.status == Status::Ok && back.value == first.value + 2);
        EXPECT_STATUS(sys::log_print(kSlotSystem, 1).status, Status::BadState);
        if (mapped.ok())
            unmap_ring_end(mapped.value());
        drop(producer_ro);
    }
    for (Slot s : {read_only, blind, empty})
        drop(s);
}

} // namespace

int exo_main(uint64_t arg) {
    boot = reinterpret_cast<const BootInfo*>(arg);
    MemoryInfo start{}, end{};
    EXPECT_OK(sys::memory_info(kSlotMemory, &start));
    test_basic();
    test_log();
    test_cap_info();
    test_copy_mint_move_delete();
    test_narrow();
    test_memory();
    test_frames();
    test_threads();
    test_processes();
    test_irq_and_ports();
    test_system();
    EXPECT_OK(sys::memory_info(kSlotMemory, &end));
    print("syscall-test: quota used %lu bytes at start, %lu at the end", start.used, end.used);
    return summary("syscall-test");
}
