// The children of malloc-test (user-malloc-*): each uses libexo's malloc over the connection
// to memsrv its parent wired into kSlotMemsrvTx/Rx, in one of the modes below (the argument).
// The misuse modes must end the process through malloc's detection (exit code
// kMallocFaultExit, with the message); reaching the end of one is a failure (exit 1).
#include "malloc_modes.hpp"

#include <exo/channel.hpp>
#include <exo/connect.hpp>
#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/malloc.hpp>
#include <exo/runtime.hpp>

using namespace exo;
using namespace exo::test;

namespace {

// Tells the parent over the ring it granted in kSlotMallocSignal, then sleeps until killed.
[[noreturn]] void signal_and_wait(uint64_t value) {
    auto tx = RingProducer::attach(Cap<Ring>::adopt(kSlotMallocSignal));
    if (tx.ok())
        (void)tx.value().send(&value, sizeof value, 1);
    for (;;)
        pause_until(sys::clock_ns() + 1'000'000'000'000);
}

// Touches the blocks through a volatile pointer, so that misuse is not optimized away.
void poke(void* p) {
    *static_cast<volatile char*>(p) = 1;
}

} // namespace

int exo_main(uint64_t arg) {
    void* blocks[kIsolationBlocks];
    switch (MallocMode(arg)) {
    case MallocMode::Fill:
        for (auto& b : blocks) {
            b = malloc(kIsolationSize);
            if (!b)
                return 1;
            memset(b, kSecretByte, kIsolationSize);
        }
        print("malloc-child: filled %u blocks from %p", kIsolationBlocks, blocks[0]);
        signal_and_wait(reinterpret_cast<uint64_t>(blocks[0]));
    case MallocMode::Probe: {
        uint64_t seen = 0;
        for (auto& b : blocks) {
            b = malloc(kIsolationSize);
            if (!b)
                return 1;
            for (uint32_t i = 0; i < kIsolationSize; ++i)
                seen += static_cast<uint8_t*>(b)[i] == kSecretByte;
        }
        print("malloc-child: probed %u blocks from %p: %lu bytes of the other heap's secret",
              kIsolationBlocks, blocks[0], seen);
        return seen == 0 ? 0 : 1;
    }
    case MallocMode::DoubleFree: {
        void* p = malloc(40);
        poke(p);
        free(p);
        free(p);
        return 1;
    }
    case MallocMode::DoubleFreeLate: {
        void* p = malloc(40);
        void* neighbour = malloc(40); // keeps the span, so p stays a pointer into the heap
        poke(p);
        poke(neighbour);
        free(p);
        (void)malloc_trim(); // p is back in memsrv's span
        free(p);
        (void)malloc_trim(); // memsrv finds it free already
        return 1;
    }
    case MallocMode::Interior: {
        char* p = static_cast<char*>(malloc(100));
        poke(p);
        free(p + 8);
        return 1;
    }
    case MallocMode::Foreign: {
        uint64_t on_stack = 0;
        poke(&on_stack);
        free(&on_stack);
        return 1;
    }
    case MallocMode::WriteAfterFree: {
        void* p = malloc(48);
        poke(p);
        free(p);
        *static_cast<volatile uint64_t*>(p) = 0x4141414141414141;
        poke(malloc(48)); // pops p: its link no longer decodes
        return 1;
    }
    case MallocMode::Hog: {
        uint64_t blocks_held = 0;
        while (void* p = malloc(1000)) {
            memset(p, 0x5A, 1000);
            ++blocks_held;
        }
        print("malloc-child: heap full after %lu blocks of 1000 bytes", blocks_held);
        signal_and_wait(blocks_held);
    }
    }
    return 1;
}
