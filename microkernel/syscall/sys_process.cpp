// Process and thread syscalls.
#include "object/cspace.hpp"
#include "object/memory.hpp"
#include "syscall/syscalls.hpp"
#include "syscall/user_memory.hpp"

namespace mk::sys {

Return process_create(const Args& a) {
    exo::Slot mem = TRY(slot_arg(a.a0)), as = TRY(slot_arg(a.a1)), dst = TRY(slot_arg(a.a2));
    if (a.a4 > exo::kMaxProcessName)
        return exo::Status::OutOfRange;
    char name[exo::kMaxProcessName];
    TRY(user::copy_in(name, a.a3, a.a4));
    auto memory = TRY(caps::resolve<Memory>(self(), mem, exo::kRightManage));
    auto space = TRY(caps::resolve<AddressSpace>(self(), as, exo::kRightManage));
    TRY(caps::check_empty(self(), dst));
    auto process = TRY(Process::create(*memory, space, name, a.a4));
    return caps::install(self(), dst, *process,
                         exo::kRightRead | exo::kRightManage | exo::kRightDuplicate |
                             exo::kRightGrant);
}

// Fills an unstarted process's capability space. Process and Thread capabilities cannot be
// given: two unstarted processes holding each other would keep each other alive forever.
Return process_grant(const Args& a) {
    exo::Slot proc = TRY(slot_arg(a.a0)), src = TRY(slot_arg(a.a1)), dst = TRY(slot_arg(a.a2));
    if (a.a3 > UINT32_MAX)
        return exo::Status::InvalidArgument;
    if (dst == exo::kSlotSelf || dst == exo::kSlotAddressSpace)
        return exo::Status::InvalidArgument; // ProcessStart fills these two
    auto child = TRY(caps::resolve<Process>(self(), proc, exo::kRightManage));
    caps::Resolved given = TRY(caps::lookup(self(), src, exo::ObjectType::None, 0));
    if (given.cap.type == uint16_t(exo::ObjectType::Process) ||
        given.cap.type == uint16_t(exo::ObjectType::Thread))
        return exo::Status::WrongType;
    if (child->state() != ProcessState::Created)
        return exo::Status::BadState;
    return caps::grant(self(), src, *child, dst, uint32_t(a.a3));
}

Return process_start(const Args& a) {
    exo::Slot proc = TRY(slot_arg(a.a0));
    auto process = TRY(caps::resolve<Process>(self(), proc, exo::kRightManage));
    if (process->state() != ProcessState::Created)
        return exo::Status::BadState;
    auto main = TRY(UserThread::create(*process->quota(), *process));
    TRY(process->start(*main, a.a1, a.a2, a.a3));
    return ok(main->id());
}

Return process_exit(const Args& a) {
    self().kill(exo::ExitInfo{uint32_t(exo::ExitReason::Exited), 0, int64_t(a.a0), 0, 0});
    exit_current_thread();
}

Return process_info(const Args& a) {
    exo::Slot proc = TRY(slot_arg(a.a0));
    if (a.a1 % alignof(exo::ProcessInfo) != 0)
        return exo::Status::Misaligned;
    if (!user::in_user_space(a.a1, sizeof(exo::ProcessInfo)))
        return exo::Status::OutOfRange;
    auto process = TRY(caps::resolve<Process>(self(), proc, exo::kRightRead));
    TRY(user::write(a.a1, process->info()));
    return ok();
}

Return process_kill(const Args& a) {
    exo::Slot proc = TRY(slot_arg(a.a0));
    auto process = TRY(caps::resolve<Process>(self(), proc, exo::kRightManage));
    process->kill(exo::ExitInfo{uint32_t(exo::ExitReason::Killed), 0, 0, 0, 0});
    return ok();
}

Return thread_create(const Args& a) {
    exo::Slot proc = TRY(slot_arg(a.a0)), mem = TRY(slot_arg(a.a1)), dst = TRY(slot_arg(a.a2));
    auto process = TRY(caps::resolve<Process>(self(), proc, exo::kRightManage));
    auto memory = TRY(caps::resolve<Memory>(self(), mem, exo::kRightManage));
    TRY(caps::check_empty(self(), dst));
    auto thread = TRY(UserThread::create(*memory, *process));
    return caps::install(self(), dst, *thread,
                         exo::kRightRead | exo::kRightManage | exo::kRightDuplicate);
}

Return thread_start(const Args& a) {
    exo::Slot t = TRY(slot_arg(a.a0));
    auto thread = TRY(caps::resolve<UserThread>(self(), t, exo::kRightManage));
    TRY(thread->start(a.a1, a.a2, a.a3));
    return ok(thread->id());
}

Return thread_exit(const Args&) {
    exit_current_thread();
}

} // namespace mk::sys
