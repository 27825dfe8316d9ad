// Temporary output files that must not outlive an interrupted process. A SIGINT/SIGTERM handler
// unlinks every registered path (unlink is async-signal-safe), sets the interrupted flag, then
// hands the signal on to whatever handler was there before (default: terminate).
#pragma once

namespace ingot::format::detail {

// Returns a slot id (>= 0), or -1 if the path is too long or all slots are taken.
int register_temp_file(const char* path);
void unregister_temp_file(int slot);
// True once SIGINT or SIGTERM arrived while a writer was alive.
bool interrupted();

}  // namespace ingot::format::detail
