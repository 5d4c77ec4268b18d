// Thread records, their stacks and their end.
#include "sched/thread.hpp"

#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/percpu.hpp"
#include "core/log.hpp"
#include "core/panic.hpp"
#include "mm/kernel_heap.hpp"
#include "sched/fpu.hpp"
#include "sched/scheduler.hpp"

#include <exo/assert.hpp>
#include <new>

extern "C" void thread_start();

namespace mk::thread {
namespace {

constinit std::atomic<uint64_t> next_id{1};
constinit std::atomic<uint64_t> live{0};
// Exited threads per CPU: pushed by the switch path with interrupts disabled, taken whole by that
// CPU with interrupts disabled, then freed with interrupts enabled. (A thread cannot free the
// stack it runs on; the CPU it died on is the one that knows it has switched away.)
constinit Thread* zombies[kMaxCpus] = {};
constinit std::atomic<uint64_t> zombies_pending{0};
constinit std::atomic<uint64_t> zombies_peak{0};

exo::Result<Thread*> new_record(const KernelStack& stack, const char* name) {
    void* memory = TRY(heap::allocate(sizeof(Thread)));
    auto* t = new (memory) Thread{};
    t->stack = stack;
    t->id = next_id.fetch_add(1, std::memory_order_relaxed);
    t->name = name;
    t->pinned_cpu = -1;
    sched::policy().init(t->entity);
    live.fetch_add(1, std::memory_order_relaxed);
    return t;
}

// Lays out `t`'s stack as if it had called switch_context from thread_start: six callee-saved
// registers (r12 = t, for thread_start) under the return address, and 16-byte alignment at
// thread_start's call (System V: rsp + 8 aligned on function entry).
void prepare_first_switch(Thread& t) {
    auto* top = reinterpret_cast<uint64_t*>(t.stack.top);
    uint64_t* frame = top - 9;
    frame[0] = 0;                                         // r15
    frame[1] = 0;                                         // r14
    frame[2] = 0;                                         // r13
    frame[3] = reinterpret_cast<uint64_t>(&t);            // r12
    frame[4] = 0;                                         // rbx
    frame[5] = 0;                                         // rbp
    frame[6] = reinterpret_cast<uint64_t>(&thread_start); // return address
    frame[7] = 0;
    frame[8] = 0;
    t.saved_rsp = reinterpret_cast<uint64_t>(frame);
}

void destroy(Thread& t) {
    void (*reclaimed)(void*) = t.reclaimed;
    void* owner = t.owner;
    fpu::release(t);
    free_kernel_stack(t.stack);
    t.~Thread();
    auto freed = heap::free(&t, sizeof(Thread));
    EXO_ASSERT(freed.ok(), "a thread record was not a heap block");
    live.fetch_sub(1, std::memory_order_relaxed);
    if (reclaimed)
        reclaimed(owner);
}

} // namespace

exo::Result<Thread*> spawn(void (*entry)(void*), void* arg, const ThreadOptions& options) {
    if (options.pinned_cpu >= 0 &&
        (uint32_t(options.pinned_cpu) >= percpu::count() ||
         !percpu::cpu(uint32_t(options.pinned_cpu)).online.load(std::memory_order_acquire)))
        return exo::Status::InvalidArgument;
    if (cpu::interrupts_enabled())
        reap_zombies(); // reuse what exited threads left before taking more
    KernelStack stack = TRY(allocate_kernel_stack());
    auto record = new_record(stack, options.name);
    if (!record.ok()) {
        free_kernel_stack(stack);
        return record.status();
    }
    Thread* t = record.value();
    t->entry = entry;
    t->arg = arg;
    t->pinned_cpu = options.pinned_cpu;
    t->address_space = options.address_space;
    t->io = options.io;
    t->user = options.user;
    t->cpu = options.pinned_cpu >= 0 ? uint32_t(options.pinned_cpu) : this_cpu().index;
    t->state.store(ThreadState::Ready, std::memory_order_relaxed);
    prepare_first_switch(*t);
    sched::enqueue_new(*t);
    return t;
}

exo::Result<Thread*> adopt_current(const KernelStack& stack, const char* name) {
    Thread* t = TRY(new_record(stack, name));
    t->cpu = this_cpu().index;
    t->on_cpu.store(true, std::memory_order_relaxed);
    return t;
}

exo::Result<Thread*> create_idle(const KernelStack& stack, void (*entry)(void*), uint32_t cpu) {
    Thread* t = TRY(new_record(stack, "idle"));
    t->entry = entry;
    t->cpu = cpu;
    t->pinned_cpu = int32_t(cpu);
    t->state.store(ThreadState::Running, std::memory_order_relaxed);
    prepare_first_switch(*t);
    return t;
}

void exit() {
    cpu::disable_interrupts();
    Thread* self = this_cpu().current;
    self->state.store(ThreadState::Dead, std::memory_order_relaxed);
    sched::block_current();
    EXO_PANIC("a dead thread was scheduled");
}

uint64_t zombie_count() {
    return zombies_pending.load(std::memory_order_relaxed);
}

bool zombies_waiting() {
    return __atomic_load_n(&zombies[this_cpu().index], __ATOMIC_RELAXED) != nullptr;
}

uint64_t zombie_peak() {
    return zombies_peak.load(std::memory_order_relaxed);
}

uint64_t live_count() {
    return live.load(std::memory_order_relaxed);
}

void add_zombie(Thread& t) {
    uint64_t pending = zombies_pending.fetch_add(1, std::memory_order_relaxed) + 1;
    uint64_t peak = zombies_peak.load(std::memory_order_relaxed);
    while (pending > peak && !zombies_peak.compare_exchange_weak(peak, pending))
        ;
    uint32_t cpu = this_cpu().index;
    t.zombie_next = zombies[cpu];
    zombies[cpu] = &t;
}

void reap_zombies() {
    cpu::disable_interrupts();
    uint32_t cpu = this_cpu().index;
    Thread* list = zombies[cpu];
    zombies[cpu] = nullptr;
    cpu::enable_interrupts();
    while (list != nullptr) {
        Thread* next = list->zombie_next;
        // Its CPU has finished switching away from it (on_cpu cleared after the push).
        uint64_t spins = 0;
        while (list->on_cpu.load(std::memory_order_acquire)) {
            cpu::pause();
            if (++spins == 100'000'000)
                log::error("reap: %s#%lu still on CPU %u (state %u)", list->name, list->id,
                           list->cpu, unsigned(list->state.load()));
        }
        zombies_pending.fetch_sub(1, std::memory_order_relaxed);
        destroy(*list);
        list = next;
    }
}

} // namespace mk::thread
