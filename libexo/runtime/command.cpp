// exo::ConsoleCommands: the registrant's side of the console's command protocol.
#include <exo/command.hpp>
#include <exo/format.hpp>
#include <exo/libc.h>

#include <stdarg.h>

namespace exo {
namespace pc = proto::console;

std::string_view ConsoleCommand::args() const {
    std::string_view s = text();
    while (!s.empty() && s.front() == ' ')
        s.remove_prefix(1);
    while (!s.empty() && s.front() != ' ')
        s.remove_prefix(1);
    while (!s.empty() && s.front() == ' ')
        s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ')
        s.remove_suffix(1);
    return s;
}

Result<ConsoleCommands> ConsoleCommands::connect(const ConnectOptions& options) {
    Channel channel = TRY(exo::connect("console", pc::kProtocol, pc::kVersion, options));
    return ConsoleCommands(static_cast<Channel&&>(channel));
}

// One record from the console: a Run or Cancel into `out`, or something to skip (the
// acknowledgement of an Output or Done, a malformed record).
ConsoleCommands::Read ConsoleCommands::read(const ring::Consumer::Message& m, ConsoleCommand& out) {
    proto::RpcHeader header;
    if (m.length < sizeof header || (m.type != pc::kMsgRun && m.type != pc::kMsgCancel))
        return Read::Skipped;
    memcpy(&header, m.data, sizeof header);
    out = ConsoleCommand{};
    out.id = header.id;
    if (m.type == pc::kMsgCancel) {
        out.kind = ConsoleCommand::Kind::Cancel;
        return Read::Command;
    }
    pc::Run run;
    const uint32_t fixed = offsetof(pc::Run, line);
    if (m.length < fixed)
        return Read::Skipped;
    const uint32_t n = m.length < sizeof run ? m.length : uint32_t(sizeof run);
    memcpy(&run, m.data, n); // copied before it is checked: the ring stays writable
    if (run.length > pc::kLineMax || fixed + run.length > n)
        return Read::Skipped;
    out.kind = ConsoleCommand::Kind::Run;
    out.length = run.length;
    memcpy(out.line, run.line, run.length);
    return Read::Command;
}

bool ConsoleCommands::push(const ConsoleCommand& command) {
    if (queued_ == kQueue)
        return false;
    queue_[queued_++] = command;
    return true;
}

void ConsoleCommands::skim() {
    ring::Consumer& view = channel_.rx.view();
    for (;;) {
        auto m = view.peek();
        if (!m.ok())
            break;
        ConsoleCommand command;
        if (read(m.value(), command) == Read::Command && !push(command)) {
            view.put_back(m.value());
            break;
        }
    }
    channel_.rx.release();
}

Result<ConsoleCommand> ConsoleCommands::poll() {
    if (queued_ != 0) {
        ConsoleCommand first = queue_[0];
        for (size_t i = 1; i < queued_; ++i)
            queue_[i - 1] = queue_[i];
        --queued_;
        return first;
    }
    ring::Consumer& view = channel_.rx.view();
    view.finish_wait();
    for (;;) {
        auto m = view.peek();
        if (m.status() == Status::WouldBlock) {
            // Empty: release, raise the flag, look once more (the doorbell's handshake).
            channel_.rx.release();
            view.prepare_wait();
            auto again = view.peek();
            if (again.status() == Status::WouldBlock)
                return Status::WouldBlock;
            view.finish_wait();
            if (again.ok())
                view.put_back(again.value());
            continue;
        }
        if (!m.ok())
            return m.status();
        ConsoleCommand command;
        const Read r = read(m.value(), command);
        channel_.rx.release();
        if (r == Read::Command)
            return command;
    }
}

Status ConsoleCommands::add(const char* word, const char* summary, uint64_t deadline) {
    pc::Register request{};
    const size_t word_length = strlen(word), summary_length = strlen(summary);
    if (word_length == 0 || word_length > pc::kWordMax || summary_length > pc::kSummaryMax)
        return Status::InvalidArgument;
    memcpy(request.word, word, word_length);
    memcpy(request.summary, summary, summary_length);
    request.header.id = next_id_++;
    TRY(channel_.tx.send(&request, sizeof request, pc::kMsgRegister, deadline));
    for (;;) {
        auto m = TRY(channel_.rx.receive(deadline));
        proto::RpcHeader header{};
        if (m.length >= sizeof header)
            memcpy(&header, m.data, sizeof header);
        const bool answer = header.id == request.header.id &&
                            (m.type == pc::kMsgRegister || m.type == proto::kMsgError);
        if (!answer) {
            ConsoleCommand command;
            if (read(m, command) == Read::Command)
                (void)push(command); // a user quick enough to type a word registered already
            channel_.rx.release();
            continue;
        }
        int32_t status = int32_t(Status::Malformed);
        if (m.length >= sizeof header + sizeof status)
            memcpy(&status, m.data + sizeof header, sizeof status);
        channel_.rx.release();
        return status == int32_t(Status::Ok) && m.type == proto::kMsgError ? Status::Malformed
                                                                           : Status(status);
    }
}

Status ConsoleCommands::output(uint64_t id, std::string_view text, uint64_t deadline) {
    do {
        skim(); // the console's acks must not fill the ring it answers on
        pc::Output record{};
        record.header.id = id;
        record.length = uint32_t(text.size() < pc::kOutputMax ? text.size() : pc::kOutputMax);
        memcpy(record.text, text.data(), record.length);
        text.remove_prefix(record.length);
        TRY(channel_.tx.send(&record, uint32_t(offsetof(pc::Output, text)) + record.length,
                             pc::kMsgOutput, deadline));
    } while (!text.empty());
    return Status::Ok;
}

Status ConsoleCommands::print(uint64_t id, const char* fmt, ...) {
    char buffer[pc::kOutputMax];
    va_list ap;
    va_start(ap, fmt);
    size_t n = vformat(buffer, sizeof buffer, fmt, ap);
    va_end(ap);
    return output(id, {buffer, n < sizeof buffer ? n : sizeof buffer - 1}, ring::kNoDeadline);
}

Status ConsoleCommands::done(uint64_t id, Status status, uint64_t deadline) {
    skim();
    pc::Done record{{id}, int32_t(status), 0};
    TRY(channel_.tx.send(&record, sizeof record, pc::kMsgDone, deadline));
    return Status::Ok;
}

} // namespace exo
