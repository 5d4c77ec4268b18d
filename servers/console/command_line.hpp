// The console's text handling that needs no syscalls, so the host tests cover it: splitting a
// command line into words and the autorun option into commands, command words, log levels,
// rights letters, and the assembly of a registrant's Output records into whole lines.
#pragma once

#include <exo/proto/console.hpp>
#include <exo/result.hpp>
#include <exo/system.hpp>

#include <stddef.h>
#include <stdint.h>
#include <string_view>

namespace srv::console {

// Without leading and trailing spaces and tabs.
std::string_view trim(std::string_view s);

// The words of `line` (separated by spaces or tabs) into `words`; their number. A line of more
// than `max` words gives max + 1 (and only the first max are stored): "too many arguments".
size_t split_words(std::string_view line, std::string_view* words, size_t max);

// The autorun option's commands, separated by ';', trimmed, empty ones skipped:
//   AutorunCommands commands(text); while (commands.next(cmd)) ...
class AutorunCommands {
public:
    explicit AutorunCommands(std::string_view text) : rest_(text) {}
    bool next(std::string_view& command);

private:
    std::string_view rest_;
};

// A command word: 1 to kWordMax of [a-z0-9-] (what Register accepts).
bool valid_word(std::string_view word);

// debug|info|warn|error; InvalidArgument otherwise.
exo::Result<exo::LogLevel> parse_log_level(std::string_view word);

// Rights as six letters "rwxdgm", '-' for each missing one; `out` gets 7 bytes with the NUL.
void rights_letters(uint32_t rights, char out[7]);

// A registrant's Output text made into lines: '\n' ends a line, other bytes outside 0x20-0x7e
// show as '.', and a line is cut at kWidth bytes. `emit` gets each line without its '\n'.
class OutputLines {
public:
    static constexpr size_t kWidth = 240;
    using Emit = void (*)(void* context, std::string_view line);

    void feed(const char* text, size_t length, Emit emit, void* context);
    // The partial line, if any (at Done, Cancel or Closed).
    void flush(Emit emit, void* context);
    void clear() { length_ = 0; }
    size_t pending() const { return length_; }

private:
    char line_[kWidth] = {};
    size_t length_ = 0;
};

} // namespace srv::console
