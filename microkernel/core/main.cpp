// kernel_main: the first C++ the kernel runs (entered from boot/entry.S in 64-bit mode on the
// boot stack). Brings up the console, reads the boot information, then runs a self-test or
// reports ready.
#include "arch/x86_64/apic.hpp"
#include "arch/x86_64/clock.hpp"
#include "arch/x86_64/cpu.hpp"
#include "arch/x86_64/gdt.hpp"
#include "arch/x86_64/idt.hpp"
#include "arch/x86_64/ioapic.hpp"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/percpu.hpp"
#include "arch/x86_64/qemu.hpp"
#include "arch/x86_64/serial.hpp"
#include "arch/x86_64/smp.hpp"
#include "bench/bench.hpp"
#include "core/cxxrt.hpp"
#include "core/log.hpp"
#include "core/panic.hpp"
#include "core/selftest.hpp"
#include "lib/acpi.hpp"
#include "lib/cmdline.hpp"
#include "syscall/syscalls.hpp"
#include "lib/ksyms.hpp"
#include "lib/multiboot2.hpp"
#include "mm/kernel_heap.hpp"
#include "mm/kernel_space.hpp"
#include "mm/kernel_stack.hpp"
#include "mm/physical.hpp"
#include "object/device.hpp"
#include "object/kernel_object.hpp"
#include "object/timers.hpp"
#include "sched/fpu.hpp"
#include "sched/scheduler.hpp"
#include "syscall/syscall_init.hpp"
#include "syscall/user_memory.hpp"
#include "user/root_process.hpp"

extern "C" const uint8_t __ksyms_start[], __ksyms_end[];
extern "C" const uint8_t boot_stack_bottom[], boot_stack_top[];

namespace mk {
namespace {

// The boot information is copied here, out of loader memory the kernel will reuse.
constinit mb2::BootInfo boot_info{};
constinit acpi::Topology topology{};
constinit KernelStack boot_thread_stack{};

// Largest boot-information block accepted (GRUB's are a few KiB; a UEFI memory map adds more).
constexpr uint64_t kMaxBootInfoBytes = 1 << 20;

void load_symbols() {
    auto table = SymbolTable::from_blob(__ksyms_start, size_t(__ksyms_end - __ksyms_start));
    if (table.ok())
        panic_set_symbols(table.value());
    else
        log::warn("ksyms: symbol table unusable (%s): backtraces will show addresses only",
                  exo::status_name(table.status()));
}

void read_boot_info(uint32_t magic, uint64_t info_phys) {
    if (magic != mb2::kBootloaderMagic)
        EXO_PANIC("not started by a Multiboot2 loader (magic 0x%x)", magic);
    if (info_phys == 0 || info_phys >= BOOT_MAPPED_BYTES)
        EXO_PANIC("boot information at 0x%lx is outside the boot mapping", info_phys);
    uint64_t available = BOOT_MAPPED_BYTES - info_phys;
    if (available > kMaxBootInfoBytes)
        available = kMaxBootInfoBytes;
    auto* info = reinterpret_cast<const uint8_t*>(DIRECT_MAP_BASE + info_phys);
    auto parsed = mb2::parse(info, available, boot_info);
    if (!parsed.ok())
        EXO_PANIC("boot information at 0x%lx is malformed: %s", info_phys,
                  exo::status_name(parsed.status()));
}

void print_boot_info() {
    const mb2::BootInfo& b = boot_info;
    log::info("boot: loader '%s', %lu-byte info block", b.loader_name, b.info_size);
    log::info("boot: command line '%s'", b.cmdline);
    log::info("memory map (%zu regions):", b.memory_count);
    for (size_t i = 0; i < b.memory_count; ++i) {
        const mb2::MemoryRegion& r = b.memory[i];
        log::info("  [0x%016lx-0x%016lx] %10lu KiB %s", r.base, r.base + r.length - 1,
                  r.length >> 10, mb2::region_type_name(r.type));
    }
    if (b.memory_dropped)
        log::warn("memory map: %zu regions beyond the first %zu ignored", b.memory_dropped,
                  mb2::kMaxMemoryRegions);
    log::info("memory: %lu KiB usable, highest usable address 0x%lx", b.usable_bytes() >> 10,
              b.highest_usable_end());
    log::info("modules (%zu):", b.module_count);
    for (size_t i = 0; i < b.module_count; ++i) {
        const mb2::Module& m = b.modules[i];
        log::info("  %zu: [0x%08x-0x%08x) %u bytes '%s'", i, m.start, m.end, m.end - m.start,
                  m.name);
    }
    if (b.modules_dropped)
        log::warn("modules: %zu beyond the first %zu ignored", b.modules_dropped, mb2::kMaxModules);
    if (b.has_rsdp)
        log::info("acpi: RSDP revision %u (%zu bytes)", b.rsdp_revision, b.rsdp_length);
    else
        log::warn("acpi: no RSDP from the boot loader");
    if (b.has_framebuffer)
        log::info("framebuffer: %ux%u, %u bpp at 0x%lx", b.framebuffer.width, b.framebuffer.height,
                  b.framebuffer.bpp, b.framebuffer.address);
}

// Highest end of the RAM-like regions (available and ACPI), which the direct map must cover.
uint64_t direct_map_end() {
    uint64_t end = 0;
    for (size_t i = 0; i < boot_info.memory_count; ++i) {
        const mb2::MemoryRegion& r = boot_info.memory[i];
        bool ram = r.type == uint32_t(mb2::RegionType::Available) ||
                   r.type == uint32_t(mb2::RegionType::AcpiReclaimable) ||
                   r.type == uint32_t(mb2::RegionType::AcpiNvs);
        if (ram && r.base + r.length > end)
            end = r.base + r.length;
    }
    return end;
}

// ACPI tables are read through the direct map, and only inside it (it covers RAM rounded up to
// 2 MiB, which takes in the firmware-reserved tail of low memory where SeaBIOS puts them).
bool read_physical(void*, uint64_t phys, void* out, size_t length) {
    uint64_t end = vm::direct_map_limit();
    if (phys >= end || length > end - phys)
        return false;
    __builtin_memcpy(out, vm::phys_to_virt(phys), length);
    return true;
}

constexpr uint64_t kIoApicWindow = 0x20; // IOREGSEL and IOWIN

bool overlaps_usable_ram(uint64_t base, uint64_t length) {
    for (size_t i = 0; i < boot_info.memory_count; ++i) {
        const mb2::MemoryRegion& r = boot_info.memory[i];
        if (r.type == uint32_t(mb2::RegionType::Available) && base < r.base + r.length &&
            r.base < base + length)
            return true;
    }
    return false;
}

// The CPUs and interrupt controllers the firmware reports. Without a usable MADT the machine
// runs on the boot CPU alone.
void read_topology() {
    if (!boot_info.has_rsdp) {
        log::warn("acpi: no RSDP: one CPU, no I/O APIC");
        return;
    }
    acpi::PhysicalReader reader{read_physical, nullptr};
    if (auto r = acpi::parse(boot_info.rsdp, boot_info.rsdp_length, reader, topology); !r.ok()) {
        log::warn("acpi: tables unusable (%s): one CPU, no I/O APIC", exo::status_name(r.status()));
        topology = {};
        return;
    }
    // Device registers never live in RAM: an I/O APIC the tables place there would have the
    // kernel write into memory the allocator hands out. Drop it.
    size_t kept = 0;
    for (size_t i = 0; i < topology.ioapic_count; ++i) {
        const acpi::IoApic& io = topology.ioapics[i];
        if (overlaps_usable_ram(io.address, kIoApicWindow))
            log::warn("acpi: I/O APIC %u at 0x%x lies in usable RAM: ignored", io.id, io.address);
        else
            topology.ioapics[kept++] = io;
    }
    topology.ioapic_count = kept;
    log::info("acpi: %s, OEM '%s': %zu CPUs, %zu I/O APICs, %zu overrides, LAPIC at 0x%lx%s",
              topology.used_xsdt ? "XSDT" : "RSDT", topology.oem_id, topology.cpu_count,
              topology.ioapic_count, topology.override_count, topology.lapic_base,
              topology.legacy_pic ? ", 8259 PICs present" : "");
}

void start_cpus(const Cmdline& cmdline) {
    uint32_t ids[acpi::kMaxCpus];
    uint32_t count = 0;
    for (size_t i = 0; i < topology.cpu_count; ++i)
        if (topology.cpus[i].enabled)
            ids[count++] = topology.cpus[i].apic_id;
    if (cmdline.get("smp") == "off" || count <= 1)
        return;
    smp::start_secondary_cpus(ids, count);
    log::info("smp: %u of %u CPUs online", percpu::online_count(), count);
}

// Interrupts, time, the FPU, the scheduler and the other CPUs. Runs as the thread "boot".
void init_cpus(const Cmdline& cmdline) {
    smp::init();
    if (auto r = fpu::init_boot(); !r.ok())
        EXO_PANIC("fpu: %s", exo::status_name(r.status()));
    if (auto r = apic::init_boot(); !r.ok())
        EXO_PANIC("local APIC: %s", exo::status_name(r.status()));
    percpu::cpu(0).apic_id = apic::id();
    read_topology();
    if (auto r = ioapic::init(topology); !r.ok())
        log::warn("ioapic: %s", exo::status_name(r.status()));
    if (auto r = sched::init(sched::Config{}, boot_thread_stack); !r.ok())
        EXO_PANIC("scheduler: %s", exo::status_name(r.status()));
    panic_set_hooks(
        {.stop_other_cpus = smp::stop_other_cpus, .stack_bounds = sched::current_stack_bounds});
    sys::init_cpu();
    user::init();
    init_irq_lines();
    cpu::enable_interrupts();
    if (auto r = timers::init(); !r.ok())
        EXO_PANIC("timer thread: %s", exo::status_name(r.status()));
    start_cpus(cmdline);
}

void init_memory(uint64_t info_phys) {
    // Phase 1 frees only what the boot tables map, so the new tables are built from it.
    if (auto r = pmm::init(boot_info, info_phys, BOOT_MAPPED_BYTES); !r.ok())
        EXO_PANIC("physical memory: %s", exo::status_name(r.status()));
    vm::enable_protection_features();
    if (auto r = vm::init(direct_map_end()); !r.ok())
        EXO_PANIC("kernel page tables: %s", exo::status_name(r.status()));
    if (auto r = pmm::add_memory_above(BOOT_MAPPED_BYTES); !r.ok())
        EXO_PANIC("physical memory above 4 GiB: %s", exo::status_name(r.status()));
    pmm::log_summary();
}

uint64_t settled_free_bytes() {
    reap_dead_objects();
    heap::trim();
    trim_kernel_stacks();
    return pmm::free_bytes();
}

// Starts the root process (`root=NAME`, default init; `root=none` for none) and waits for it to
// end. True when it exited with code 0 and every byte it was given came back.
bool run_root(const Cmdline& cmdline) {
    bool named;
    std::string_view name = cmdline.get("root", &named);
    if (!named)
        name = "init";
    if (name == "none")
        return true;
    uint64_t free_before = settled_free_bytes();
    auto root = user::start_root(boot_info, name, cmdline.get("init"));
    if (!root.ok())
        return false;
    auto end = root.value()->wait(0);
    const exo::ExitInfo& info = end.value();
    static constexpr const char* kReasons[] = {"running", "exited", "faulted", "killed"};
    log::info("root: '%s' %s (code %ld, vector %u)", root.value()->name(),
              kReasons[info.reason & 3], info.code, info.vector);
    root.value().reset();
    // Its end was announced once its last thread's stack was free (UserThread::reclaimed), so
    // nothing of it may still be on the way back.
    uint64_t free_after = settled_free_bytes();
    log::info("root: at most %lu exited threads awaited a reaper at once (%u CPUs)",
              thread::zombie_peak(), percpu::count());
    if (free_after != free_before) {
        log::error("root: %ld bytes of memory did not come back",
                   int64_t(free_before - free_after));
        return false;
    }
    log::info("root: all memory returned (%lu KiB free)", free_after >> 10);
    return info.reason == uint32_t(exo::ExitReason::Exited) && info.code == 0;
}

// The rest of boot, on a kernel stack with a guard page below it.
[[noreturn]] void continue_boot() {
    Cmdline cmdline(boot_info.cmdline);
    init_cpus(cmdline);
    if (cmdline.has("test"))
        selftest::run(cmdline.get("test"), {boot_info, cmdline});
    if (cmdline.has("bench"))
        bench::run(cmdline.get("bench"), {boot_info, cmdline});
    log::raw("exo: ready\n");
    sys::set_autorun(cmdline.get("autorun")); // for the console (SystemInfo)
    bool passed = run_root(cmdline);
    if (cmdline.has("shutdown"))
        qemu::exit(passed ? qemu::ExitCode::Pass : qemu::ExitCode::Fail);
    cpu::halt_forever();
}

} // namespace
} // namespace mk

extern "C" [[noreturn]] void kernel_main(uint32_t magic, uint64_t info_phys) {
    using namespace mk;
    clock::mark_boot();
    serial::init();
    percpu::install(percpu::cpu(0), 0, 0);
    run_global_constructors();
    panic_set_stack_bounds(reinterpret_cast<uint64_t>(boot_stack_bottom),
                           reinterpret_cast<uint64_t>(boot_stack_top));
    load_symbols();
    gdt::init_boot(percpu::cpu(0));
    idt::init();

    log::raw("\nExo-OS " EXO_VERSION " - x86-64 capability microkernel\n");
    clock::calibrate();
    read_boot_info(magic, info_phys);

    Cmdline cmdline(boot_info.cmdline);
    bool in_test = cmdline.has("test");
    panic_set_config({.exit_emulator = in_test || cmdline.get("panic") == "exit"});
    if (cmdline.get("log") == "debug")
        log::set_min_level(log::Level::Debug);
    print_boot_info();
    init_memory(info_phys);

    auto stack = allocate_kernel_stack();
    if (!stack.ok())
        EXO_PANIC("no kernel stack: %s", exo::status_name(stack.status()));
    panic_set_stack_bounds(stack.value().bottom, stack.value().top);
    boot_thread_stack = stack.value();
    run_on_stack(stack.value(), continue_boot);
}
