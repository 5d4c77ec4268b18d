// The example app of docs/apps.md: what a process can do with the capabilities it was given.
// It starts with four: itself (kSlotSelf), its address space, its memory quota and the log.
#include <exo/cap.hpp>
#include <exo/log.hpp>
#include <exo/runtime.hpp>

using namespace exo;

namespace {

constexpr uint64_t kBuffer = 0x10000000; // where we map our frame
constexpr uint64_t kView = 0x10100000;   // where we map a read-only view of it

Status demo() {
    // 1. Memory: a 4 KiB frame, charged to our quota.
    MemoryInfo before{};
    TRY(sys::memory_info(kSlotMemory, &before));
    Cap<Frame> frame = TRY(frame_alloc(kSlotMemory, 1));
    TRY(sys::frame_map(kSlotAddressSpace, frame.slot(), kBuffer, kMapWrite));
    auto* text = reinterpret_cast<char*>(kBuffer);
    const char message[] = "written through a writable mapping";
    for (size_t i = 0; i < sizeof message; ++i)
        text[i] = message[i];

    // 2. Rights only shrink: a read-only copy can be mapped for reading, never for writing.
    Cap<Frame> read_only = TRY(frame.copy(kRightRead | kRightDuplicate));
    Status denied = sys::frame_map(kSlotAddressSpace, read_only.slot(), kView, kMapWrite);
    TRY(sys::frame_map(kSlotAddressSpace, read_only.slot(), kView, kMapRead));
    print("hello: the read-only view says '%s'; mapping it writable: %s",
          reinterpret_cast<const char*>(kView), status_name(denied));

    // 3. Revoke takes back every capability derived from ours (the mapping keeps the frame).
    uint64_t revoked = TRY(frame.revoke());
    CapInfo info{};
    Status gone = sys::cap_info(read_only.slot(), &info);
    print("hello: revoked %lu derived capability; the copy's slot now: %s", revoked,
          status_name(gone));
    free_slot(read_only.release()); // the capability is already gone; the slot is free

    // 4. The frame goes back to the quota with its last mapping and capability. The page
    //    tables made for the two mappings stay (charged to us) until the address space ends.
    TRY(sys::frame_unmap(kSlotAddressSpace, kView));
    TRY(sys::frame_unmap(kSlotAddressSpace, kBuffer));
    frame.reset();
    MemoryInfo after{};
    TRY(sys::memory_info(kSlotMemory, &after));
    print("hello: quota used %lu bytes before, %lu after (the new page table)", before.used,
          after.used);
    return Status::Ok;
}

} // namespace

int exo_main(uint64_t) {
    print("hello from ring 3");
    Status s = demo();
    print("hello: done (%s)", status_name(s));
    return s == Status::Ok ? 0 : 1;
}
