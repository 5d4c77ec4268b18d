// The operator's calls on a System capability (exo/system.hpp). Being written.
#include "syscall/syscalls.hpp"

namespace mk::sys {

Return system_info(const Args&) {
    return exo::Status::Unsupported;
}
Return process_list(const Args&) {
    return exo::Status::Unsupported;
}
Return process_caps(const Args&) {
    return exo::Status::Unsupported;
}
Return log_attach(const Args&) {
    return exo::Status::Unsupported;
}
Return log_level(const Args&) {
    return exo::Status::Unsupported;
}
Return system_shutdown(const Args&) {
    return exo::Status::Unsupported;
}

} // namespace mk::sys
