// The control guest test (tests/guest/manifests/control.manifest, user-control-smp*): init's
// Programs, Kill and Restart (exo/proto/init.hpp) over the link to init. With arg 0 its line says
// `control`: it lists the programs, kills echo-server and sees supervision restart it, restarts
// it on request and sees it back uncounted. With arg 1 its line has no `control`: it must be
// refused. Exits 0 when every check held.
#include "expect.hpp"

#include <exo/channel.hpp>
#include <exo/connect.hpp>
#include <exo/libc.h>
#include <exo/log.hpp>
#include <exo/proto/init.hpp>
#include <exo/runtime.hpp>

#include <new>

using namespace exo;
using namespace exo::test;
namespace init = exo::proto::init;

namespace {

constexpr uint64_t kTimeout = 10'000'000'000;
constexpr uint64_t kRestartWithin = 2'000'000'000; // for echo-server to be running again
constexpr uint64_t kPoll = 10'000'000;
constexpr uint32_t kManifestPrograms = 4; // echo-server, this one, two without control

// The link init granted (kSlotInitTx, kSlotInitRx), greeted. Never destroyed.
alignas(Channel) unsigned char link_storage[sizeof(Channel)];

Result<Channel*> link_to_init() {
    auto tx = TRY(RingProducer::attach(Cap<Ring>::adopt(kSlotInitTx)));
    auto rx = TRY(RingConsumer::attach(Cap<Ring>::adopt(kSlotInitRx)));
    auto* link = new (link_storage)
        Channel{static_cast<RingProducer&&>(tx), static_cast<RingConsumer&&>(rx)};
    RpcClient rpc(*link);
    proto::Hello hello{init::kProtocol, init::kVersion};
    proto::HelloReply answer{};
    TRY(rpc.call(proto::kMsgHello, &hello, sizeof hello, &answer, sizeof answer,
                 sys::clock_ns() + kTimeout));
    TRY(Status(answer.status));
    return link;
}

Status programs(RpcClient& rpc, init::ProgramsReply& out, uint32_t first = 0) {
    init::ProgramsRequest request{first, 0};
    out = {};
    auto n = rpc.call(init::kMsgPrograms, &request, sizeof request, &out, sizeof out,
                      sys::clock_ns() + kTimeout);
    if (!n.ok())
        return n.status();
    return n.value() == 8 + out.count * sizeof(init::ProgramRecord) ? Status::Ok
                                                                    : Status::Malformed;
}

// Kill or Restart of `name`: the number of instances, or the error.
Result<uint32_t> control(RpcClient& rpc, uint32_t type, const char* name) {
    init::ControlRequest request{};
    memcpy(request.name, name, strlen(name));
    init::ControlReply reply{};
    TRY(rpc.call(type, &request, sizeof request, &reply, sizeof reply, sys::clock_ns() + kTimeout));
    TRY(Status(reply.status));
    return reply.processes;
}

// echo-server's record (the first of the manifest).
init::ProgramRecord echo_server(RpcClient& rpc) {
    init::ProgramsReply all;
    if (programs(rpc, all) != Status::Ok || all.count == 0 ||
        strcmp(all.programs[0].name, "echo-server") != 0)
        return {};
    return all.programs[0];
}

// Polls Programs every 10 ms until echo-server runs as a process other than `old`.
init::ProgramRecord running_again(RpcClient& rpc, uint64_t old, uint64_t* waited_ms) {
    const uint64_t start = sys::clock_ns();
    init::ProgramRecord r{};
    for (;;) {
        r = echo_server(rpc);
        const bool back = r.state == uint32_t(init::ProgramState::Running) && r.process_id != old &&
                          r.process_id != 0;
        if (back || sys::clock_ns() - start > kRestartWithin)
            break;
        pause_until(sys::clock_ns() + kPoll);
    }
    *waited_ms = (sys::clock_ns() - start) / 1'000'000;
    return r;
}

int controller(RpcClient& rpc) {
    ProcessInfo self{};
    (void)sys::process_info(kSlotSelf, &self);
    init::ProgramsReply all;
    EXPECT_STATUS(programs(rpc, all), Status::Ok);
    check_true(__LINE__, "Programs lists every instance of the manifest",
               all.total == kManifestPrograms && all.count == kManifestPrograms);
    const init::ProgramRecord echo = all.programs[0]; // a copy: `all` is read into again below
    check_true(__LINE__, "echo-server runs, not restarted",
               strcmp(echo.name, "echo-server") == 0 &&
                   echo.state == uint32_t(init::ProgramState::Running) && echo.restarts == 0 &&
                   echo.process_id != 0);
    check_true(__LINE__, "this program's record has its process id",
               strcmp(all.programs[1].name, "control-client") == 0 &&
                   all.programs[1].process_id == self.id &&
                   all.programs[1].state == uint32_t(init::ProgramState::Running));
    check_true(__LINE__, "each instance of count=2 is a record of its own",
               strcmp(all.programs[2].name, "control-client") == 0 &&
                   strcmp(all.programs[3].name, "control-client") == 0 &&
                   all.programs[2].process_id != all.programs[3].process_id);
    EXPECT_STATUS(programs(rpc, all, kManifestPrograms), Status::Ok);
    check_true(__LINE__, "Programs past the last is empty",
               all.count == 0 && all.total == kManifestPrograms);

    // Kill: supervision restarts it, counted.
    const uint64_t first = echo.process_id;
    auto killed = control(rpc, init::kMsgKill, "echo-server");
    check_true(__LINE__, "Kill echo-server killed 1", killed.ok() && killed.value() == 1);
    uint64_t waited = 0;
    init::ProgramRecord again = running_again(rpc, first, &waited);
    check_true(__LINE__, "killed echo-server runs again as a new process, 1 restart",
               again.state == uint32_t(init::ProgramState::Running) && again.process_id != first &&
                   again.restarts == 1);
    print("control-client: echo-server killed; running again after %lu ms, restarts %u", waited,
          again.restarts);

    // Restart: a new process, not counted.
    auto restarted = control(rpc, init::kMsgRestart, "echo-server");
    check_true(__LINE__, "Restart echo-server restarted 1",
               restarted.ok() && restarted.value() == 1);
    init::ProgramRecord third = running_again(rpc, again.process_id, &waited);
    check_true(__LINE__, "restarted echo-server is a new process, restarts unchanged",
               third.state == uint32_t(init::ProgramState::Running) &&
                   third.process_id != again.process_id && third.process_id != first &&
                   third.restarts == 1);
    print("control-client: echo-server restarted on request; running after %lu ms, restarts %u",
          waited, third.restarts);

    EXPECT_STATUS(control(rpc, init::kMsgKill, "no-such-program").status(), Status::NotFound);
    EXPECT_STATUS(control(rpc, init::kMsgRestart, "no-such-program").status(), Status::NotFound);
    uint8_t shorter[4] = {};
    uint64_t none = 0;
    EXPECT_STATUS(rpc.call(init::kMsgKill, shorter, sizeof shorter, &none, sizeof none,
                           sys::clock_ns() + kTimeout)
                      .status(),
                  Status::Truncated);
    return summary("control-client");
}

int refused(RpcClient& rpc) {
    init::ProgramsReply all;
    Status s = programs(rpc, all);
    EXPECT_STATUS(s, Status::AccessDenied);
    EXPECT_STATUS(control(rpc, init::kMsgKill, "echo-server").status(), Status::AccessDenied);
    EXPECT_STATUS(control(rpc, init::kMsgRestart, "echo-server").status(), Status::AccessDenied);
    print("control-client: Programs without control: %s", status_name(s));
    return summary("control-denied");
}

} // namespace

int exo_main(uint64_t arg) {
    auto link = link_to_init();
    if (!link.ok()) {
        print("control-client: no link to init: %s", status_name(link.status()));
        return 2;
    }
    RpcClient rpc(*link.value());
    return arg == 0 ? controller(rpc) : refused(rpc);
}
