// The console's portable text handling (command_line.hpp).
#include "command_line.hpp"

namespace srv::console {
namespace {

bool blank(char c) {
    return c == ' ' || c == '\t';
}

} // namespace

std::string_view trim(std::string_view s) {
    while (!s.empty() && blank(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && blank(s.back()))
        s.remove_suffix(1);
    return s;
}

size_t split_words(std::string_view line, std::string_view* words, size_t max) {
    size_t count = 0;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && blank(line[i]))
            ++i;
        if (i == line.size())
            break;
        const size_t start = i;
        while (i < line.size() && !blank(line[i]))
            ++i;
        if (count == max)
            return max + 1;
        words[count++] = std::string_view(line.data() + start, i - start);
    }
    return count;
}

bool AutorunCommands::next(std::string_view& command) {
    while (!rest_.empty()) {
        const size_t end = rest_.find(';');
        // (No substr: it may throw, and the freestanding build has no exceptions.)
        std::string_view piece = rest_;
        if (end == std::string_view::npos) {
            rest_ = std::string_view();
        } else {
            piece = std::string_view(rest_.data(), end);
            rest_.remove_prefix(end + 1);
        }
        piece = trim(piece);
        if (!piece.empty()) {
            command = piece;
            return true;
        }
    }
    return false;
}

bool valid_word(std::string_view word) {
    if (word.empty() || word.size() > exo::proto::console::kWordMax)
        return false;
    for (char c : word) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return true;
}

exo::Result<exo::LogLevel> parse_log_level(std::string_view word) {
    for (uint32_t level = 0; level < 4; ++level) {
        if (word == exo::log_level_name(level))
            return exo::LogLevel(level);
    }
    return exo::Status::InvalidArgument;
}

void rights_letters(uint32_t rights, char out[7]) {
    constexpr char kLetters[] = "rwxdgm";
    for (int i = 0; i < 6; ++i)
        out[i] = (rights & (1u << i)) ? kLetters[i] : '-';
    out[6] = '\0';
}

void OutputLines::feed(const char* text, size_t length, Emit emit, void* context) {
    for (size_t i = 0; i < length; ++i) {
        const char c = text[i];
        if (c == '\n') {
            emit(context, {line_, length_});
            length_ = 0;
            continue;
        }
        if (length_ == kWidth) {
            emit(context, {line_, length_});
            length_ = 0;
        }
        line_[length_++] = (c >= 0x20 && c <= 0x7e) ? c : '.';
    }
}

void OutputLines::flush(Emit emit, void* context) {
    if (length_ != 0)
        emit(context, {line_, length_});
    length_ = 0;
}

} // namespace srv::console
