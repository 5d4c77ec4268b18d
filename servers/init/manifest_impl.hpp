// parse_manifest: each line through the shared key=value tokenizer (exo/kv.hpp), no allocation.
// Portable: no libc either, so the host tests compile it natively.
#pragma once

#include <exo/kv.hpp>
#include <string_view>

namespace srv::init {
namespace detail {

constexpr bool is_service_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// SVC[,SVC...] into names[0, count), at most `max` distinct names; `why` when the list is bad.
inline const char* parse_services(std::string_view list, ServiceName* names, size_t& count,
                                  size_t max, const char* why) {
    count = 0;
    for (;;) {
        exo::Split s = exo::split_at(list, ',');
        if (count == max || s.head.empty() || s.head.size() > kServiceNameMax)
            return why;
        for (char c : s.head) {
            if (!is_service_char(c))
                return why;
        }
        for (size_t i = 0; i < count; ++i) {
            if (std::string_view(names[i]) == s.head)
                return "a service is named twice";
        }
        for (size_t i = 0; i < sizeof names[count]; ++i)
            names[count][i] = i < s.head.size() ? s.head[i] : '\0';
        ++count;
        if (!s.found)
            return nullptr;
        list = s.tail;
    }
}

// One option of a `start` line into `e`; the reason it is bad otherwise.
inline const char* apply_option(const exo::KvToken& t, ServerEntry& e) {
    using exo::parse_number;
    std::string_view key = t.key, value = t.value;
    if (key == "log") {
        if (t.has_value)
            return "bad log (it takes no value)";
        e.log = true;
    } else if (key == "quota") {
        auto n = parse_number(value, 1, uint64_t(1) << 30);
        if (!n.ok())
            return "bad quota (KiB, 1 to 2^30)";
        e.quota_bytes = n.value() * 1024;
    } else if (key == "irq") {
        auto n = parse_number(value, 0, 255);
        if (!n.ok())
            return "bad irq line (0 to 255)";
        e.has_irq = true;
        e.irq = uint32_t(n.value());
    } else if (key == "ports") {
        exo::Split range = exo::split_at(value, '-');
        auto first = parse_number(range.head, 0, 0xFFFF);
        auto last = parse_number(range.tail, 0, 0xFFFF);
        if (!first.ok() || !last.ok() || first.value() > last.value())
            return "bad ports (FIRST-LAST, at most 0xffff)";
        e.port_first = uint32_t(first.value());
        e.port_count = uint32_t(last.value() - first.value() + 1);
    } else if (key == "serve") {
        return parse_services(value, e.serve, e.serve_count, kMaxServe,
                              "bad serve (1 to 4 names of 1-15 [a-z0-9-], comma-separated)");
    } else if (key == "connect") {
        return parse_services(value, e.connect, e.connect_count, kMaxConnect,
                              "bad connect (1 to 8 names of 1-15 [a-z0-9-], comma-separated)");
    } else if (key == "restarts") {
        auto n = parse_number(value, 0, RestartBudget::kMaxRestarts);
        if (!n.ok())
            return "bad restarts (0 to 100)";
        e.restarts = uint32_t(n.value());
    } else if (key == "within") {
        auto n = parse_number(value, 1, kMaxWithinMs);
        if (!n.ok())
            return "bad within (milliseconds, 1 to 3600000)";
        e.within_ms = n.value();
    } else if (key == "count") {
        auto n = parse_number(value, 1, kMaxInstances);
        if (!n.ok())
            return "bad count (1 to 64)";
        e.count = uint32_t(n.value());
    } else if (key == "arg") {
        auto n = parse_number(value);
        if (!n.ok())
            return "bad arg (a number below 2^64)";
        e.arg = n.value();
    } else if (key == "system") {
        if (t.has_value && value != "manage")
            return "bad system (no value for Read, or system=manage)";
        e.system_rights = exo::kRightRead | (t.has_value ? uint32_t(exo::kRightManage) : 0);
    } else if (key == "control") {
        if (t.has_value)
            return "bad control (it takes no value)";
        e.control = true;
    } else {
        return "unknown option";
    }
    return nullptr;
}

// A `start NAME OPTION...` line (its first token already checked) into `e`; why it is bad.
inline const char* parse_start(const exo::KvTokens& tokens, ServerEntry& e) {
    auto it = tokens.begin();
    if (++it == tokens.end() || (*it).text.size() >= sizeof e.name)
        return "start needs a module name (under 48 bytes)";
    std::string_view name = (*it).text;
    for (char c : name) {
        if (c < '!' || c > '~') // init passes it on as a C string, and prints it
            return "bad module name (printable ASCII only)";
    }
    for (size_t i = 0; i < sizeof e.name; ++i)
        e.name[i] = i < name.size() ? name[i] : '\0';
    for (++it; it != tokens.end(); ++it) {
        if (const char* why = apply_option(*it, e))
            return why;
    }
    return nullptr;
}

} // namespace detail

template <typename Fn, typename Bad>
void parse_manifest(const char* text, size_t size, Fn&& fn, Bad&& bad) {
    std::string_view rest(text, size);
    for (size_t line_number = 1; !rest.empty(); ++line_number) {
        exo::Split split = exo::split_at(rest, '\n');
        rest = split.tail;
        std::string_view line = split.head;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        exo::KvTokens tokens(line, exo::KvComments::Hash);
        size_t count = 0;
        for (auto it = tokens.begin(); it != tokens.end() && count <= kMaxLineTokens; ++it)
            ++count;
        if (count == 0)
            continue; // blank, or only a comment
        if (line.size() > kMaxLineBytes) {
            bad(line_number, "line too long (over 200 bytes)");
            continue;
        }
        if (count > kMaxLineTokens) {
            bad(line_number, "too many tokens (over 16)");
            continue;
        }
        if ((*tokens.begin()).text != "start")
            continue; // other lines describe modules for the ISO recipe
        ServerEntry e;
        if (const char* why = detail::parse_start(tokens, e))
            bad(line_number, why);
        else
            fn(e);
    }
}

} // namespace srv::init
